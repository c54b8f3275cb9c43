package dev.jvmm.vmm.api;

import dev.jvmm.vmm.Vm;
import dev.jvmm.vmm.VmRunner;
import java.nio.file.Path;

/**
 * {@code jvmm launch --api-socket PATH}: the control API for the VMs a launch runs. The server starts once the
 * first VM's vCPUs run (on the runner's thread, which only waits from then on: the boot path never waits for it),
 * follows each VM the runner builds (a reboot builds a new one) through {@link VmController}, and is closed, its
 * socket removed, when the launch ends. The only class the launch touches for the API, so that a launch without
 * {@code --api-socket} loads no server class.
 */
public final class ApiLaunch implements VmRunner.Lifecycle, AutoCloseable {
    private final Path socket;
    private final VmController controller;
    private final VmRunner.Lifecycle inner;
    private ApiServer server;

    /** @param inner what else the launch does at each VM's start and stop (e.g. {@code --stats}) */
    public ApiLaunch(Path socket, VmController controller, VmRunner.Lifecycle inner) {
        this.socket = socket;
        this.controller = controller;
        this.inner = inner;
    }

    @Override
    public void started(Vm vm) {
        controller.started(vm);
        inner.started(vm);
        if (server == null) {
            server = ApiServer.start(socket, controller);
        }
    }

    @Override
    public void stopped(Vm vm) {
        try {
            inner.stopped(vm);
        } finally {
            controller.stopped(vm);
        }
    }

    @Override
    public void closed(Vm vm) {
        try {
            inner.closed(vm);
        } finally {
            controller.closed(vm);
        }
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
        controller.close();
    }
}

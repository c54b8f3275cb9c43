package dev.jvmm.vmm;

import dev.jvmm.vmm.config.VmConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a VM to its end: build, run, tear down; on a reset with {@code on_reboot=restart}, build and boot it again
 * (a fresh VM: kernel reloaded, vCPUs reset). Returns the final {@link VmExit}.
 */
public final class VmRunner {
    private static final Logger log = LoggerFactory.getLogger(VmRunner.class);

    private VmRunner() {
    }

    public static VmExit run(VmConfig cfg) {
        return run(cfg, vm -> { });
    }

    /** As {@link #run(VmConfig)}; {@code atExit} sees each VM after its vCPUs stopped (for {@link VmStats}). */
    public static VmExit run(VmConfig cfg, java.util.function.Consumer<Vm> atExit) {
        try (Console console = Console.open(cfg.console())) {
            return run(cfg, console, java.util.List.of(), atExit);
        }
    }

    public static VmExit run(VmConfig cfg, Console console) {
        return run(cfg, console, java.util.List.of());
    }

    /** As {@link #run(VmConfig, Console)}, attaching {@code extensions} to every (re)built VM. */
    public static VmExit run(VmConfig cfg, Console console, java.util.List<VmExtension> extensions) {
        return run(cfg, console, extensions, vm -> { });
    }

    /**
     * As {@link #run(VmConfig, Console, java.util.List)}; {@code atExit} sees each VM after its vCPUs stopped and
     * before it is torn down (for {@link VmStats}).
     */
    public static VmExit run(VmConfig cfg, Console console, java.util.List<VmExtension> extensions,
                             java.util.function.Consumer<Vm> atExit) {
        int boots = 0;
        while (true) {
            boots++;
            VmExit e;
            try (Vm vm = VmBuilder.build(cfg, console, extensions)) {
                e = vm.run();
                atExit.accept(vm);
            }
            if (e.kind() == VmExit.Kind.RESET && cfg.onReboot() == VmConfig.OnReboot.RESTART) {
                log.info("{}; restarting the VM (boot {})", e.message(), boots + 1);
                continue;
            }
            return e;
        }
    }
}

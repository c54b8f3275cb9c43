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

    /** As {@link #run(VmConfig, java.util.function.Consumer)}, with both ends of each boot. */
    public static VmExit run(VmConfig cfg, Lifecycle life) {
        try (Console console = Console.open(cfg.console())) {
            return run(cfg, console, java.util.List.of(), life);
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
        return run(cfg, console, extensions, new Lifecycle() {
            @Override
            public void stopped(Vm vm) {
                atExit.accept(vm);
            }
        });
    }

    /** What a caller sees of each VM the runner builds (one per boot). */
    public interface Lifecycle {
        /** The VM's vCPUs are running (called on the runner's thread). */
        default void started(Vm vm) {
        }

        /** The VM's vCPUs stopped; it is torn down after this returns. */
        default void stopped(Vm vm) {
        }

        /** The VM has been torn down: its devices, fds and DMA mappings are gone. */
        default void closed(Vm vm) {
        }
    }

    /** As {@link #run(VmConfig, Console, java.util.List, java.util.function.Consumer)}, with both ends of each boot. */
    public static VmExit run(VmConfig cfg, Console console, java.util.List<VmExtension> extensions, Lifecycle life) {
        return run(cfg, console, extensions, null, life);
    }

    /**
     * As {@link #run(VmConfig, Lifecycle)}, the first VM built from the saved state {@code restore} (null: booted);
     * it stays paused unless the restore says to resume. A reboot after that boots from the config.
     */
    public static VmExit run(VmConfig cfg, VmSnapshot.Restore restore, Lifecycle life) {
        try (Console console = Console.open(cfg.console())) {
            return run(cfg, console, java.util.List.of(), restore, life);
        }
    }

    private static VmExit run(VmConfig cfg, Console console, java.util.List<VmExtension> extensions,
            VmSnapshot.Restore restore, Lifecycle life) {
        int boots = 0;
        while (true) {
            boots++;
            VmExit e;
            Vm built = null;
            VmSnapshot.Restore from = boots == 1 ? restore : null;
            try (Vm vm = VmBuilder.build(cfg, console, extensions, from)) {
                built = vm;
                if (from != null) {
                    if (from.resume()) {
                        vm.resume();
                    } else {
                        log.info("the restored VM is paused: resume it through the control API");
                    }
                }
                e = vm.run(from == null ? life::started : v -> {
                    life.started(v);
                    v.devices().plugRestoredPrimaries(); // failover pairs get this host's VF once the guest runs
                });
                life.stopped(vm);
            } finally {
                if (built != null) {
                    life.closed(built);
                }
            }
            if (e.kind() == VmExit.Kind.REBOOT) {
                log.info("{}; building the VM again (boot {})", e.message(), boots + 1);
                continue;
            }
            if (e.kind() == VmExit.Kind.RESET && cfg.onReboot() == VmConfig.OnReboot.RESTART) {
                log.info("{}; restarting the VM (boot {})", e.message(), boots + 1);
                continue;
            }
            return e;
        }
    }
}

package dev.jvmm.lab;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * {@code jvmm lab shell}: boots L1 with its serial console and QEMU monitor on this terminal ({@code -serial
 * mon:stdio}); /init starts a shell in the host-root chroot. {@code exit} powers L1 off; {@code Ctrl-A X} quits QEMU.
 */
public final class LabShell {
    private LabShell() {
    }

    /** Runs the interactive session and returns QEMU's exit code. */
    public static int run(LabConfig cfg, Consumer<String> progress) {
        GuestKit.Kit kit = GuestKit.ensure(cfg, progress);
        HostPrereqs.requireForL1(cfg);
        Path runDir = LabSession.createRunDir(cfg);
        Path scratch = LabSession.createScratch(cfg, runDir);
        List<String> cmd = new L1CommandLine().qemu(cfg.qemuBinary()).kernel(kit.kernel(), kit.initrdL1())
                .memoryMb(cfg.memoryMb()).scratchImage(scratch, cfg.scratchCache()).e1000eRom(OptionRom.write(runDir))
                .nvmeNamespace(LabSession.sparseFile(runDir.resolve(LabSession.NVME_NAMESPACE_FILE), LabSession.NVME_NAMESPACE_BYTES))
                .interactive(true)
                .env("JVMM_MODE", "shell").env("JVMM_SCRATCH", cfg.scratchMountPoint().toString()).build();
        progress.accept("lab: booting L1 (" + kit.release() + "), about 15 s; Ctrl-A X quits QEMU");
        Process p;
        try {
            p = new ProcessBuilder(cmd).inheritIO().start();
        } catch (IOException e) {
            throw new LabException(LabException.Reason.MISSING_PREREQUISITE,
                    "cannot start " + cmd.get(0) + "; fix: " + LabSetup.qemuInstallCommand(), e);
        }
        Thread hook = new Thread(() -> {
            p.destroy();
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            p.destroyForcibly();
        }, "jvmm-lab-shell-stop-" + p.pid());
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroy();
            return 130;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // shutting down: the hook stops QEMU
            }
            Initramfs.deleteTree(runDir);
        }
    }
}

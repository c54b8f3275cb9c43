package dev.jvmm.lab;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Where the lab keeps its files and how it boots L1. {@link #fromEnvironment()} reads:
 * {@code JVMM_LAB_DIR} (default {@code /var/tmp/jvmm-lab}), {@code JVMM_LAB_KERNEL} (an exact kernel package name),
 * {@code JVMM_LAB_KERNEL_SERIES} (e.g. {@code 6.1}), {@code JVMM_LAB_MEM_MB} (L1 memory, default 3072),
 * {@code JVMM_LAB_BOOT_TIMEOUT_S} (default 180), {@code JVMM_LAB_SCRATCH_GB} (scratch disk size, default 8).
 */
public record LabConfig(Path labDir, String kernelPackage, String kernelSeries, int memoryMb, Duration bootTimeout,
                        int scratchGb, String qemuBinary) {

    public static final Path DEFAULT_DIR = Path.of("/var/tmp/jvmm-lab");

    public static LabConfig fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    static LabConfig fromEnvironment(Map<String, String> env) {
        String dir = env.getOrDefault("JVMM_LAB_DIR", "");
        return new LabConfig(dir.isBlank() ? DEFAULT_DIR : Path.of(dir).toAbsolutePath(),
                blankToNull(env.get("JVMM_LAB_KERNEL")),
                blankToNull(env.get("JVMM_LAB_KERNEL_SERIES")),
                Integer.parseInt(env.getOrDefault("JVMM_LAB_MEM_MB", "3072")),
                Duration.ofSeconds(Long.parseLong(env.getOrDefault("JVMM_LAB_BOOT_TIMEOUT_S", "180"))),
                Integer.parseInt(env.getOrDefault("JVMM_LAB_SCRATCH_GB", "8")),
                env.getOrDefault("JVMM_LAB_QEMU", "qemu-system-x86_64"));
    }

    public LabConfig withLabDir(Path dir) {
        return new LabConfig(dir, kernelPackage, kernelSeries, memoryMb, bootTimeout, scratchGb, qemuBinary);
    }

    public LabConfig withMemoryMb(int mb) {
        return new LabConfig(labDir, kernelPackage, kernelSeries, mb, bootTimeout, scratchGb, qemuBinary);
    }

    /** Cached kits, one directory per kernel release. */
    public Path kitRoot() {
        return labDir.resolve("kit");
    }

    /** Per-boot run directories (share, console log, scratch image). */
    public Path runRoot() {
        return labDir.resolve("runs");
    }

    /**
     * The scratch disk's mount point inside L1 (the same path exists, empty, on the host, because the host root is
     * what L1 sees under its chroot and 9p cannot create directories there).
     */
    public Path scratchMountPoint() {
        return labDir.resolve("l1-scratch");
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }
}

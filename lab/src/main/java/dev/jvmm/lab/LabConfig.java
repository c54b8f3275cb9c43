package dev.jvmm.lab;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Where the lab keeps its files and how it boots L1. Two places: {@link #labDir()}, shared by every user of the
 * machine (the guest kit cache and the kernel .deb, readable by all), and {@link #userDir()}, this user's own (run
 * directories with their scratch images, and the scratch mount point). For root both are {@code /var/tmp/jvmm-lab};
 * another user's runs go to {@code /var/tmp/jvmm-lab-USER}, so one root run does not lock everybody else out (the
 * lab needs no root: QEMU runs under TCG). {@link #fromEnvironment()} reads:
 * {@code JVMM_LAB_DIR} (both places; default as above), {@code JVMM_LAB_KERNEL} (an exact kernel package name),
 * {@code JVMM_LAB_KERNEL_SERIES} (e.g. {@code 6.1}), {@code JVMM_LAB_MEM_MB} (L1 memory, default {@value L1CommandLine#DEFAULT_MEMORY_MB}: see there why no more),
 * {@code JVMM_LAB_BOOT_TIMEOUT_S} (default 180), {@code JVMM_LAB_SCRATCH_GB} (scratch disk size, default 8),
 * {@code JVMM_LAB_SCRATCH_CACHE} (QEMU's cache mode for the scratch disk, default {@code unsafe}: fastest, but the host
 * writes its data back whenever it chooses; the benchmarks take {@code none}, so that one VM's writes are not paid
 * for during the next one's figures), {@code JVMM_LAB_SCRATCH_IMAGE_DIR} (the host directory that holds the scratch disk's
 * image, default the run directory; {@code /dev/shm} puts L1's disk in the host's memory, for a host whose own disk
 * is slow or metered).
 */
public record LabConfig(Path labDir, Path userDir, String kernelPackage, String kernelSeries, int memoryMb,
                        Duration bootTimeout, int scratchGb, String qemuBinary, String scratchCache,
                        Path scratchImageDir) {

    /** QEMU's {@code cache=} modes. */
    static final java.util.List<String> CACHE_MODES = java.util.List.of("unsafe", "writeback", "none", "writethrough",
            "directsync");

    public LabConfig {
        if (!CACHE_MODES.contains(scratchCache)) {
            throw new LabException(LabException.Reason.CONFIG, "JVMM_LAB_SCRATCH_CACHE=" + scratchCache
                    + " is not a QEMU cache mode (one of " + String.join(", ", CACHE_MODES) + ")");
        }
    }

    public static final Path DEFAULT_DIR = Path.of("/var/tmp/jvmm-lab");

    public static LabConfig fromEnvironment() {
        return fromEnvironment(System.getenv(), System.getProperty("user.name"));
    }

    static LabConfig fromEnvironment(Map<String, String> env, String user) {
        String dir = env.getOrDefault("JVMM_LAB_DIR", "");
        Path shared = dir.isBlank() ? DEFAULT_DIR : Path.of(dir).toAbsolutePath();
        Path own = !dir.isBlank() || "root".equals(user) ? shared
                : DEFAULT_DIR.resolveSibling(DEFAULT_DIR.getFileName() + "-" + user.replaceAll("[^A-Za-z0-9._-]", "_"));
        String imageDir = blankToNull(env.get("JVMM_LAB_SCRATCH_IMAGE_DIR"));
        return new LabConfig(shared, own,
                blankToNull(env.get("JVMM_LAB_KERNEL")),
                blankToNull(env.get("JVMM_LAB_KERNEL_SERIES")),
                Integer.parseInt(env.getOrDefault("JVMM_LAB_MEM_MB", Integer.toString(L1CommandLine.DEFAULT_MEMORY_MB))),
                Duration.ofSeconds(Long.parseLong(env.getOrDefault("JVMM_LAB_BOOT_TIMEOUT_S", "180"))),
                Integer.parseInt(env.getOrDefault("JVMM_LAB_SCRATCH_GB", "8")),
                env.getOrDefault("JVMM_LAB_QEMU", "qemu-system-x86_64"),
                env.getOrDefault("JVMM_LAB_SCRATCH_CACHE", "unsafe"),
                imageDir == null ? null : Path.of(imageDir).toAbsolutePath());
    }

    /** The same with both places at {@code dir}. */
    public LabConfig withLabDir(Path dir) {
        return new LabConfig(dir, dir, kernelPackage, kernelSeries, memoryMb, bootTimeout, scratchGb, qemuBinary, scratchCache,
                scratchImageDir);
    }

    public LabConfig withMemoryMb(int mb) {
        return new LabConfig(labDir, userDir, kernelPackage, kernelSeries, mb, bootTimeout, scratchGb, qemuBinary, scratchCache,
                scratchImageDir);
    }

    /** Cached kits shared by every user, one directory per kernel release. */
    public Path kitRoot() {
        return labDir.resolve("kit");
    }

    /** This user's own kits: built here when the shared cache has no current kit and is not writable by this user. */
    public Path userKitRoot() {
        return userDir.resolve("kit");
    }

    /** Per-boot run directories (share, console log, scratch image), this user's own. */
    public Path runRoot() {
        return userDir.resolve("runs");
    }

    /**
     * The scratch disk's mount point inside L1 (the same path exists, empty, on the host, because the host root is
     * what L1 sees under its chroot and 9p cannot create directories there).
     */
    public Path scratchMountPoint() {
        return userDir.resolve("l1-scratch");
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }
}

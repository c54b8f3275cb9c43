package dev.jvmm.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Installs what the lab needs on a Debian host, through apt only: the build tools for the kit and QEMU. On Debian 12
 * (bookworm) QEMU comes from Debian's own {@code bookworm-backports} suite (7.2 has no igb); this writes that suite's
 * {@code .sources} file when no apt source names it yet. Needs root.
 */
public final class LabSetup {

    /** Packages from the main suite. */
    public static final List<String> PACKAGES = List.of("busybox-static", "cpio", "kmod", "gcc", "libc6-dev",
            "linux-libc-dev", "e2fsprogs", "iproute2", "xz-utils", "gzip");

    static final Path BACKPORTS_SOURCES = Path.of("/etc/apt/sources.list.d/bookworm-backports.sources");
    static final String BACKPORTS_TEXT = """
            Types: deb
            URIs: http://deb.debian.org/debian
            Suites: bookworm-backports
            Components: main
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
            """;

    private LabSetup() {
    }

    /** The command that installs a QEMU with igb on this distribution. */
    public static String qemuInstallCommand() {
        return isBookworm() ? "jvmm lab setup   (adds bookworm-backports, then: apt-get install -y -t bookworm-backports"
                + " qemu-system-x86)" : "apt-get install -y qemu-system-x86";
    }

    /** Whether this process may install packages: root on a host with apt-get. */
    public static boolean canInstall() {
        return isRoot() && Proc.which("apt-get") != null;
    }

    static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    /**
     * What {@code check} still finds missing after installing it with {@link #run} when {@code install} allows
     * (the lab tier on CI, {@code jvmm demo} as root): the one place that decides "set the host up, then look again".
     */
    public static List<HostPrereqs.Missing> installMissing(java.util.function.Supplier<List<HostPrereqs.Missing>> check,
                                                           boolean install, Consumer<String> out) {
        List<HostPrereqs.Missing> missing = check.get();
        if (missing.isEmpty() || !install) {
            return missing;
        }
        out.accept("setup: missing " + missing.stream().map(HostPrereqs.Missing::what).toList()
                + "; installing them (the same as jvmm lab setup)");
        run(out);
        return check.get();
    }

    /** Runs the whole setup: each apt step and each package apt sets up goes to {@code out} as it happens. */
    public static void run(Consumer<String> out) {
        if (!isRoot()) {
            throw new LabException(LabException.Reason.SETUP_FAILED,
                    "jvmm lab setup installs Debian packages and must run as root; fix: sudo jvmm lab setup");
        }
        if (Proc.which("apt-get") == null) {
            throw new LabException(LabException.Reason.SETUP_FAILED,
                    "jvmm lab setup supports Debian (apt-get) only; install by hand: QEMU >= 8.0 with igb, "
                            + String.join(" ", PACKAGES));
        }
        boolean bookworm = isBookworm();
        if (bookworm && !backportsConfigured()) {
            out.accept("setup: writing " + BACKPORTS_SOURCES);
            try {
                Files.writeString(BACKPORTS_SOURCES, BACKPORTS_TEXT);
            } catch (IOException e) {
                throw new LabException(LabException.Reason.SETUP_FAILED, "cannot write " + BACKPORTS_SOURCES, e);
            }
        }
        apt(out, List.of("apt-get", "update"));
        List<String> install = new ArrayList<>(List.of("apt-get", "install", "-y", "--no-install-recommends"));
        install.addAll(PACKAGES);
        apt(out, install);
        if (bookworm) {
            apt(out, List.of("apt-get", "install", "-y", "--no-install-recommends", "-t", "bookworm-backports",
                    "qemu-system-x86"));
        } else {
            apt(out, List.of("apt-get", "install", "-y", "--no-install-recommends", "qemu-system-x86"));
        }
        out.accept("setup: done");
    }

    private static void apt(Consumer<String> out, List<String> cmd) {
        out.accept("setup: " + String.join(" ", cmd));
        long t0 = System.nanoTime();
        Proc.Result r = Proc.run(cmd, null, Duration.ofMinutes(20), Map.of("DEBIAN_FRONTEND", "noninteractive"),
                line -> {
                    if (line.startsWith("Setting up ")) {
                        out.accept("setup:   " + line.strip());
                    }
                });
        out.accept(String.format("setup:   done in %.0f s", (System.nanoTime() - t0) / 1e9));
        if (!r.ok()) {
            throw new LabException(LabException.Reason.SETUP_FAILED,
                    String.join(" ", cmd) + " failed (exit " + r.exitCode() + "): " + r.tail());
        }
    }

    static boolean isBookworm() {
        try {
            return Files.readString(Path.of("/etc/os-release")).contains("VERSION_CODENAME=bookworm");
        } catch (IOException e) {
            return false;
        }
    }

    static boolean backportsConfigured() {
        if (Files.exists(BACKPORTS_SOURCES)) {
            return true;
        }
        List<Path> files = new ArrayList<>(List.of(Path.of("/etc/apt/sources.list")));
        try (var s = Files.list(Path.of("/etc/apt/sources.list.d"))) {
            s.forEach(files::add);
        } catch (IOException ignored) {
            // no directory: nothing configured there
        }
        for (Path f : files) {
            try {
                for (String line : Files.readAllLines(f)) {
                    if (!line.strip().startsWith("#") && line.contains("bookworm-backports")) {
                        return true;
                    }
                }
            } catch (IOException ignored) {
                // unreadable file: not ours to judge
            }
        }
        return false;
    }
}

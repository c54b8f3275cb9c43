package dev.jvmm.lab;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks the host pieces the lab needs. Every missing piece comes with the exact command that fixes it; all of them
 * are installed by {@code jvmm lab setup} ({@link LabSetup}).
 */
public final class HostPrereqs {

    /** QEMU's igb model (SR-IOV 82576) first appeared in 8.0. */
    public static final int[] MIN_QEMU = {8, 0};

    /** One missing piece: what is wrong and the command that fixes it. */
    public record Missing(String what, String fix) {
        @Override
        public String toString() {
            return what + " (fix: " + fix + ")";
        }
    }

    private HostPrereqs() {
    }

    /** Pieces needed to build the guest kit. */
    public static List<Missing> checkKit() {
        List<Missing> m = new ArrayList<>();
        tool(m, "apt-get", "apt");
        tool(m, "apt-cache", "apt");
        tool(m, "dpkg-deb", "dpkg");
        tool(m, "depmod", "kmod");
        tool(m, "modprobe", "kmod");
        tool(m, "cpio", "cpio");
        tool(m, "gzip", "gzip");
        tool(m, "xz", "xz-utils");
        tool(m, "gcc", "gcc");
        if (!Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libc.a"))) {
            m.add(new Missing("static libc (libc.a) for the helper programs", aptFix("libc6-dev")));
        }
        if (!Files.exists(Path.of("/usr/include/linux/kvm.h"))) {
            m.add(new Missing("kernel headers /usr/include/linux/kvm.h", aptFix("linux-libc-dev")));
        }
        if (!busyboxStatic()) {
            m.add(new Missing("a static /bin/busybox (package busybox-static)", aptFix("busybox-static")));
        }
        return m;
    }

    /** Pieces needed to boot the emulated host (L1). */
    public static List<Missing> checkL1(LabConfig cfg) {
        List<Missing> m = new ArrayList<>();
        String qemuFix = LabSetup.qemuInstallCommand();
        Path qemu = Proc.which(cfg.qemuBinary());
        if (qemu == null) {
            m.add(new Missing(cfg.qemuBinary() + " (QEMU >= 8.0 with igb) is not installed", qemuFix));
        } else {
            Proc.Result v = Proc.run(List.of(qemu.toString(), "--version"), null, Duration.ofSeconds(30));
            int[] ver = parseQemuVersion(v.output());
            if (ver == null) {
                m.add(new Missing("cannot read the QEMU version from: " + v.tail(), qemuFix));
            } else if (!atLeast(ver, MIN_QEMU)) {
                m.add(new Missing("QEMU " + ver[0] + "." + ver[1] + " is too old: the igb SR-IOV NIC needs QEMU >= 8.0",
                        qemuFix));
            } else {
                Proc.Result d = Proc.run(List.of(qemu.toString(), "-device", "help"), null, Duration.ofSeconds(30));
                if (!d.output().contains("name \"igb\"")) {
                    m.add(new Missing("this QEMU has no igb device model", qemuFix));
                }
            }
        }
        tool(m, "mkfs.ext4", "e2fsprogs");
        return m;
    }

    /** Everything (kit and L1). */
    public static List<Missing> checkAll(LabConfig cfg) {
        List<Missing> m = new ArrayList<>(checkKit());
        m.addAll(checkL1(cfg));
        return m;
    }

    static void requireForKit() {
        require(checkKit());
    }

    static void requireForL1(LabConfig cfg) {
        require(checkL1(cfg));
    }

    /** Throws {@link LabException.Reason#MISSING_PREREQUISITE} naming every missing piece and its fix. */
    public static void require(List<Missing> missing) {
        if (!missing.isEmpty()) {
            throw new LabException(LabException.Reason.MISSING_PREREQUISITE, describe(missing));
        }
    }

    public static String describe(List<Missing> missing) {
        StringBuilder sb = new StringBuilder("the lab is missing host pieces:");
        for (Missing x : missing) {
            sb.append("\n  - ").append(x);
        }
        sb.append("\nall of them: jvmm lab setup   (as root; installs the Debian packages, QEMU from bookworm-backports)");
        return sb.toString();
    }

    /** {@code QEMU emulator version 10.0.2 (Debian ...)} → {10, 0, 2}; null when not found. */
    public static int[] parseQemuVersion(String versionOutput) {
        Matcher m = Pattern.compile("version (\\d+)\\.(\\d+)(?:\\.(\\d+))?").matcher(versionOutput);
        if (!m.find()) {
            return null;
        }
        return new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                m.group(3) == null ? 0 : Integer.parseInt(m.group(3))};
    }

    static boolean atLeast(int[] v, int[] min) {
        for (int i = 0; i < min.length; i++) {
            int x = i < v.length ? v[i] : 0;
            if (x != min[i]) {
                return x > min[i];
            }
        }
        return true;
    }

    private static void tool(List<Missing> m, String tool, String pkg) {
        if (!Proc.onPath(tool)) {
            m.add(new Missing(tool + " is not installed", aptFix(pkg)));
        }
    }

    private static String aptFix(String pkg) {
        return "apt-get install -y " + pkg;
    }

    /** A static busybox has no PT_INTERP program header (no dynamic loader). */
    static boolean busyboxStatic() {
        Path bb = Path.of("/bin/busybox");
        if (!Files.isExecutable(bb)) {
            return false;
        }
        try (var ch = java.nio.channels.FileChannel.open(bb)) {
            var buf = java.nio.ByteBuffer.allocate(64).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(buf, 0);
            if (buf.getInt(0) != 0x464c457f || buf.get(4) != 2) {
                return false; // not a 64-bit ELF
            }
            long phoff = buf.getLong(0x20);
            int phentsize = Short.toUnsignedInt(buf.getShort(0x36));
            int phnum = Short.toUnsignedInt(buf.getShort(0x38));
            var ph = java.nio.ByteBuffer.allocate(phentsize * phnum).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            ch.read(ph, phoff);
            for (int i = 0; i < phnum; i++) {
                if (ph.getInt(i * phentsize) == 3) { // PT_INTERP
                    return false;
                }
            }
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}

package dev.jvmm.lab;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SmallPartsTest {

    @Test
    void qemuVersion() {
        assertArrayEquals(new int[] {10, 0, 2},
                HostPrereqs.parseQemuVersion("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\n"));
        assertArrayEquals(new int[] {7, 2, 0}, HostPrereqs.parseQemuVersion("QEMU emulator version 7.2"));
        assertNull(HostPrereqs.parseQemuVersion("bash: qemu: not found"));
        assertTrue(HostPrereqs.atLeast(new int[] {10, 0, 2}, HostPrereqs.MIN_QEMU));
        assertTrue(HostPrereqs.atLeast(new int[] {8, 0, 0}, HostPrereqs.MIN_QEMU));
        assertFalse(HostPrereqs.atLeast(new int[] {7, 2, 22}, HostPrereqs.MIN_QEMU));
    }

    @Test
    void missingPiecesNameTheirFix() {
        String d = HostPrereqs.describe(List.of(new HostPrereqs.Missing("cpio is not installed", "apt-get install -y cpio")));
        assertTrue(d.contains("cpio is not installed (fix: apt-get install -y cpio)"), d);
        assertTrue(d.contains("jvmm lab setup"), d);
    }

    @Test
    void markers() {
        String console = """
                JVMM-LAB: init-start kernel=6.12.117+deb12-amd64 uptime=16.33
                JVMM-LAB: scenario-start source=cmdline uptime=18.21
                JVMM-L2-HELLO kernel=6.12.117+deb12-amd64
                echo JVMM-LAB: scenario-exit rc=5 is not a marker
                JVMM-LAB: scenario-exit rc=0 uptime=18.37\r
                JVMM-LAB: poweroff uptime=18.45
                """;
        List<InitMarkers.Marker> m = InitMarkers.parse(console);
        assertEquals(List.of("init-start", "scenario-start", "scenario-exit", "poweroff"),
                m.stream().map(InitMarkers.Marker::event).toList());
        assertEquals(Optional.of("6.12.117+deb12-amd64"), m.get(0).value("kernel"));
        assertEquals(Optional.of(0), InitMarkers.scenarioExit(console));
        assertTrue(InitMarkers.scenarioPrinted(console, "JVMM-L2-HELLO"));
        assertFalse(InitMarkers.scenarioPrinted(console, "JVMM-LAB: poweroff"));
        assertEquals(Optional.empty(), InitMarkers.scenarioExit("JVMM-LAB: scenario-start\n"));
    }

    @Test
    void shellQuoting() {
        assertEquals("uname -a", ShellQuote.join(List.of("uname", "-a")));
        assertEquals("echo 'a b' 'it'\\''s' ''", ShellQuote.join(List.of("echo", "a b", "it's", "")));
    }

    @Test
    void timestamps() {
        assertEquals("[  12.345] hello", Timestamped.format(12.3454, "hello"));
        assertEquals("[   0.000] x", Timestamped.format(0, "x"));
    }

    @Test
    void policy() {
        assertTrue(new LabPolicy(Map.of("CI", "true")).required());
        assertTrue(new LabPolicy(Map.of("JVMM_REQUIRE_LAB", "1")).required());
        assertFalse(new LabPolicy(Map.of()).required());
        assertEquals(LabPolicy.Verdict.FAIL, new LabPolicy(Map.of("CI", "true"))
                .verdict(List.of(new HostPrereqs.Missing("x", "y"))));
        assertEquals(LabPolicy.Verdict.SKIP, new LabPolicy(Map.of()).verdict(List.of(new HostPrereqs.Missing("x", "y"))));
        assertEquals(LabPolicy.Verdict.READY, new LabPolicy(Map.of()).verdict(List.of()));
        assertTrue(new LabPolicy(Map.of("CI", "true")).autoSetup(true));
        assertFalse(new LabPolicy(Map.of("CI", "true")).autoSetup(false));
        assertFalse(new LabPolicy(Map.of()).autoSetup(true));
        assertFalse(new LabPolicy(Map.of("CI", "true", "JVMM_LAB_SETUP", "0")).autoSetup(true));
    }

    @Test
    void config() {
        LabConfig c = LabConfig.fromEnvironment(Map.of("JVMM_LAB_DIR", "/x/lab", "JVMM_LAB_KERNEL_SERIES", "6.1"), "ann");
        assertEquals(Path.of("/x/lab/kit"), c.kitRoot());
        assertEquals(Path.of("/x/lab/l1-scratch"), c.scratchMountPoint());
        assertEquals(Path.of("/x/lab/runs"), c.runRoot());
        assertEquals("6.1", c.kernelSeries());
        LabConfig root = LabConfig.fromEnvironment(Map.of(), "root");
        assertEquals(LabConfig.DEFAULT_DIR, root.labDir());
        assertEquals(LabConfig.DEFAULT_DIR, root.userDir());
        assertEquals("unsafe", root.scratchCache());
        assertEquals("none", LabConfig.fromEnvironment(Map.of("JVMM_LAB_SCRATCH_CACHE", "none"), "root").scratchCache());
        LabException e = assertThrows(LabException.class,
                () -> LabConfig.fromEnvironment(Map.of("JVMM_LAB_SCRATCH_CACHE", "none,aio=native"), "root"));
        assertEquals(LabException.Reason.CONFIG, e.reason());
        assertTrue(e.getMessage().contains("JVMM_LAB_SCRATCH_CACHE=none,aio=native"), e.getMessage());
        assertNull(root.scratchImageDir());
        assertEquals(Path.of("/dev/shm"),
                LabConfig.fromEnvironment(Map.of("JVMM_LAB_SCRATCH_IMAGE_DIR", "/dev/shm"), "root").scratchImageDir());
    }

    /** A scratch image kept elsewhere is linked from the run directory and removed with it; nothing else is. */
    @Test
    void scratchImageElsewhereIsRemovedWithTheRun(@TempDir Path tmp) throws Exception {
        Path images = Files.createDirectories(tmp.resolve("shm"));
        Files.writeString(images.resolve("other.img"), "not ours");
        LabConfig cfg = LabConfig.fromEnvironment(Map.of("JVMM_LAB_DIR", tmp.resolve("lab").toString(),
                "JVMM_LAB_SCRATCH_IMAGE_DIR", images.toString(), "JVMM_LAB_SCRATCH_GB", "1"), "root");
        Path run = Files.createDirectories(cfg.runRoot().resolve("20261206-000000-1-1"));
        Path image = LabSession.createScratch(cfg, run);
        assertEquals(images.resolve("jvmm-lab-scratch-20261206-000000-1-1.img"), image);
        assertEquals(image, Files.readSymbolicLink(run.resolve("scratch.img")));
        assertEquals(1L << 30, Files.size(image));
        LabSession.deleteRunDir(run);
        assertFalse(Files.exists(run));
        assertFalse(Files.exists(image));
        assertTrue(Files.exists(images.resolve("other.img")));
    }

    @Test
    void anotherUserSharesTheKitButNotTheRuns() {
        LabConfig ann = LabConfig.fromEnvironment(Map.of(), "ann");
        assertEquals(Path.of("/var/tmp/jvmm-lab/kit"), ann.kitRoot());
        assertEquals(Path.of("/var/tmp/jvmm-lab-ann/runs"), ann.runRoot());
        assertEquals(Path.of("/var/tmp/jvmm-lab-ann/l1-scratch"), ann.scratchMountPoint());
        assertEquals(Path.of("/var/tmp/jvmm-lab-ann/kit"), ann.userKitRoot());
        assertEquals(Path.of("/var/tmp/jvmm-lab-a_b/runs"), LabConfig.fromEnvironment(Map.of(), "a/b").runRoot());
    }

    @Test
    void aBuiltKitIsMadeReadableByAll(@TempDir Path dir) throws IOException {
        Path kit = Files.createDirectories(dir.resolve("kit/6.12"));
        Path f = Files.writeString(kit.resolve("vmlinuz"), "k");
        Path x = Files.writeString(kit.resolve("helper"), "#!");
        Files.setPosixFilePermissions(kit, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        Files.setPosixFilePermissions(x, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        GuestKit.readableByAll(kit, Integer.MAX_VALUE);
        assertEquals("rwxr-xr-x", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(kit)));
        assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
        assertEquals("rwxr-xr-x", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(x)));
    }

    @Test
    void aLabDirectoryOfAnotherUserIsRefusedWithItsOwnerNamed(@TempDir Path dir) throws IOException {
        Path mine = dir.resolve("lab-me");
        LabSession.requireOwnDir(mine);
        assertTrue(Files.isDirectory(mine));
        LabSession.requireOwnDir(mine); // again: exists and is ours
        // a directory whose parent is a file cannot be made: the message names the path and the reason
        Path file = Files.writeString(dir.resolve("file"), "");
        LabException e = assertThrows(LabException.class, () -> LabSession.requireOwnDir(file.resolve("lab")));
        assertTrue(e.getMessage().contains(file.resolve("lab").toString()) && e.getMessage().contains("file exists"),
                e.getMessage());
    }

    @Test
    void manifestOnlyJarsAreExpanded(@TempDir Path dir) throws IOException {
        Path classes = Files.createDirectories(dir.resolve("classes"));
        Path booter = dir.resolve("booter.jar");
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        mf.getMainAttributes().put(Attributes.Name.CLASS_PATH, classes.toUri() + " lib/a.jar");
        try (JarOutputStream j = new JarOutputStream(Files.newOutputStream(booter), mf)) {
            j.flush();
        }
        String cp = Classpath.expand(booter.toString());
        assertEquals(booter + ":" + classes + ":" + dir.resolve("lib/a.jar"), cp);
    }
}

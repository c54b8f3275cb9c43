package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.sys.json.Json;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code jvmm img create|info|check} against the real qemu-img (qemu-utils; a missing qemu-img fails these tests,
 * ./run-tests installs it): images jvmm creates pass qemu-img check; jvmm's info facts equal qemu-img info's; jvmm's
 * check finds the leaks and corruptions qemu-img finds, with its exit codes, and repairs them.
 */
class ImgCommandTest {
    @TempDir
    Path tmp;

    record Out(int rc, String out) {
    }

    static Out qemu(String... cmd) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            throw new AssertionError(cmd[0] + " is needed by this test (apt-get install qemu-utils; ./run-tests does)", e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Out(p.exitValue(), out);
    }

    static String ok(String... cmd) throws Exception {
        Out o = qemu(cmd);
        assertEquals(0, o.rc(), String.join(" ", cmd) + ":\n" + o.out());
        return o.out();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> json(String s) throws Exception {
        return (Map<String, Object>) Json.parse(s);
    }

    @SuppressWarnings("unchecked")
    static void assertSameFacts(Path img) throws Exception {
        Map<String, Object> q = json(ok("qemu-img", "info", "--output=json", img.toString()));
        CliRun r = CliRun.of("img", "info", "--json", img.toString());
        assertEquals(0, r.code(), r.err());
        Map<String, Object> j = json(r.out());
        for (String k : List.of("format", "virtual-size", "cluster-size", "backing-filename", "full-backing-filename",
                "backing-filename-format", "dirty-flag", "filename")) {
            assertEquals(q.get(k), j.get(k), k + " of " + img);
        }
        if (q.containsKey("format-specific")) {
            Map<String, Object> qd = (Map<String, Object>) ((Map<String, Object>) q.get("format-specific")).get("data");
            Map<String, Object> jd = (Map<String, Object>) ((Map<String, Object>) j.get("format-specific")).get("data");
            for (String k : List.of("compat", "compression-type", "lazy-refcounts", "refcount-bits", "corrupt",
                    "extended-l2")) {
                assertEquals(qd.get(k), jd.get(k), "format-specific " + k + " of " + img);
            }
        }
        assertTrue(((Number) j.get("actual-size")).longValue() >= 0);
    }

    @ParameterizedTest(name = "-o {0}")
    @CsvSource(delimiter = ';', value = {"cluster_size=65536,compat=1.1", "cluster_size=4096,compat=0.10",
            "cluster_size=2M", "cluster_size=512", "cluster_size=4k,compat=1.1"})
    void createdImagesPassQemuImgCheckAndInfoAgrees(String opts) throws Exception {
        Path base = tmp.resolve("base.qcow2");
        CliRun r = CliRun.of("img", "create", "-f", "qcow2", "-o", opts, base.toString(), "3G");
        assertEquals(0, r.code(), r.err() + r.out());
        ok("qemu-img", "check", base.toString());
        assertSameFacts(base);
        Path top = tmp.resolve("top.qcow2");
        r = CliRun.of("img", "create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "-o", opts, top.toString());
        assertEquals(0, r.code(), r.err() + r.out());
        ok("qemu-img", "check", top.toString());
        assertSameFacts(top);
        assertEquals(3L << 30, ((Number) json(ok("qemu-img", "info", "--output=json", top.toString()))
                .get("virtual-size")).longValue());
        // qemu-io can write into them, and both checks stay clean
        ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 1M 3M", top.toString());
        ok("qemu-img", "check", top.toString());
        assertEquals(0, CliRun.of("img", "check", top.toString()).code());
    }

    @Test
    void infoAgreesOnQemuMadeImages() throws Exception {
        Path raw = tmp.resolve("r.raw");
        Files.write(raw, new byte[1 << 20]);
        assertSameFacts(raw);
        Path a = tmp.resolve("a.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on,refcount_bits=8", a.toString(), "100M");
        assertSameFacts(a);
        Path b = tmp.resolve("b.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "r.raw", "-F", "raw", "-o", "compat=0.10", b.toString());
        assertSameFacts(b);
        CliRun t = CliRun.of("img", "info", b.toString());
        assertTrue(t.out().contains("file format: qcow2") && t.out().contains("backing file: r.raw"), t.out());
        Path raw2 = tmp.resolve("made.raw");
        assertEquals(0, CliRun.of("img", "create", "-f", "raw", raw2.toString(), "10M").code());
        assertEquals(10L << 20, Files.size(raw2));
        assertEquals(63, CliRun.of("img", "check", raw2.toString()).code());
    }

    /** A refcount of a cluster past the image's metadata set to 1 (a leak) or one of the L1 table's set to 0. */
    static void patchRefcount(Path img, long cluster, int value) throws Exception {
        // qemu-img's default layout: refcount table at cluster 1, its first block at cluster 2, 16-bit refcounts
        Map<String, Object> info = json(ok("qemu-img", "info", "--output=json", img.toString()));
        long cs = ((Number) info.get("cluster-size")).longValue();
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(cs);
            long block = f.readLong();
            f.seek(block + cluster * 2);
            f.writeShort(value);
            if (f.length() < (cluster + 1) * cs) {
                f.setLength((cluster + 1) * cs);
            }
        }
    }

    @Test
    void checkFindsAndRepairsLeaksAndCorruptionsWithQemuImgsExitCodes() throws Exception {
        Path img = tmp.resolve("c.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", img.toString(), "64M");
        ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 0 1M", img.toString());
        assertEquals(0, CliRun.of("img", "check", img.toString()).code());
        long clusters = Files.size(img) / 65536;
        patchRefcount(img, clusters + 2, 1);
        assertEquals(3, qemu("qemu-img", "check", img.toString()).rc());
        CliRun r = CliRun.of("img", "check", img.toString());
        assertEquals(3, r.code(), r.out());
        assertTrue(r.out().contains("Leaked cluster " + (clusters + 2)), r.out());
        r = CliRun.of("img", "check", "-r", "leaks", img.toString());
        assertEquals(0, r.code(), r.out());
        assertEquals(0, qemu("qemu-img", "check", img.toString()).rc());

        patchRefcount(img, 3, 0); // the L1 table's cluster
        assertEquals(2, qemu("qemu-img", "check", img.toString()).rc());
        r = CliRun.of("img", "check", img.toString());
        assertEquals(2, r.code(), r.out());
        assertTrue(r.out().contains("ERROR cluster 3 refcount=0 reference=1"), r.out());
        r = CliRun.of("img", "check", "-r", "all", img.toString());
        assertEquals(0, r.code(), r.out());
        assertEquals(0, qemu("qemu-img", "check", img.toString()).rc(), "qemu-img agrees the repair is complete");
    }

    @Test
    void dirtyImageGetsItsRefcountsRebuiltWhenOpenedForWriting() throws Exception {
        Path img = tmp.resolve("dirty.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", img.toString(), "64M");
        ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x33 0 2M", img.toString());
        // what QEMU leaves when killed with lazy refcounts: the dirty bit set, refcounts behind (here: a data cluster's
        // refcount lost)
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(72);
            f.writeLong(1);
        }
        patchRefcount(img, 5, 0);
        assertTrue(CliRun.of("img", "info", img.toString()).out().contains("dirty flag: true"));
        try (var be = dev.jvmm.virtio.blk.BlockBackend.open(img.toString(), false,
                dev.jvmm.virtio.blk.CacheMode.WRITEBACK)) {
            assertEquals("qcow2", be.format());
        }
        Out o = qemu("qemu-img", "check", img.toString());
        assertEquals(0, o.rc(), o.out());
        assertEquals(false, json(ok("qemu-img", "info", "--output=json", img.toString())).get("dirty-flag"));
    }

    @Test
    void badInputIsAClearError() throws Exception {
        CliRun r = CliRun.of("img", "create", "-f", "vmdk", tmp.resolve("x").toString(), "1M");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("unknown format"), r.err());
        r = CliRun.of("img", "create", "-o", "cluster_size=3000", tmp.resolve("x").toString(), "1M");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("power of two"), r.err());
        r = CliRun.of("img", "info", tmp.resolve("missing").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("ENOENT"), r.err());
        r = CliRun.of("img", "create", "-b", "missing.qcow2", tmp.resolve("y.qcow2").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("missing.qcow2"), r.err());
    }
}

package dev.jvmm.virtio.blk.qcow2;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.sys.NativeBuffer;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * jvmm writes (random writes, discards, write-zeroes) into images made by qemu-img, fresh and over backing files,
 * while the same operations go to a raw file; the result passes {@code qemu-img check} and {@code qemu-img compare}
 * says it equals the raw file.
 */
class Qcow2WriteTest {
    @TempDir
    Path tmp;

    /** Applies the same random operations to the image and to a raw truth (starting from the raw content given). */
    static void randomOps(DiskImage d, Path truthRaw, long seed, int ops) throws Exception {
        Random r = new Random(seed);
        long size = d.size();
        try (RandomAccessFile t = new RandomAccessFile(truthRaw.toFile(), "rw");
                NativeBuffer buf = new NativeBuffer(1 << 20)) {
            t.setLength(size);
            for (int i = 0; i < ops; i++) {
                long off = (long) r.nextInt((int) (size / 512)) * 512;
                int len = (int) Math.min(size - off, (1 + r.nextInt(r.nextInt(10) < 8 ? 64 : 2048)) * 512L);
                int kind = r.nextInt(10);
                if (kind < 6) {
                    byte[] data = new byte[len];
                    if (r.nextInt(4) == 0) {
                        java.util.Arrays.fill(data, (byte) r.nextInt());
                    } else {
                        r.nextBytes(data);
                    }
                    buf.put(0, data, 0, len);
                    assertEquals(0, d.write(off, len, buf.address()), "write at " + off);
                    t.seek(off);
                    t.write(data);
                } else if (kind < 8) {
                    assertEquals(0, d.writeZeroes(off, len, r.nextBoolean()), "write-zeroes at " + off);
                    t.seek(off);
                    t.write(new byte[len]);
                } else {
                    // discard: the content after is undefined, so the truth takes whatever the image reads now
                    assertEquals(0, d.discard(off, len), "discard at " + off);
                    assertEquals(0, d.read(off, len, buf.address()));
                    byte[] now = new byte[len];
                    buf.get(0, now, 0, len);
                    t.seek(off);
                    t.write(now);
                }
                if (i % 50 == 0) {
                    // reads agree with the truth along the way
                    long roff = (long) r.nextInt((int) (size / 512)) * 512;
                    int rlen = (int) Math.min(size - roff, 256 * 1024);
                    assertEquals(0, d.read(roff, rlen, buf.address()));
                    byte[] got = new byte[rlen];
                    buf.get(0, got, 0, rlen);
                    byte[] want = new byte[rlen];
                    t.seek(roff);
                    t.readFully(want);
                    assertArrayEquals(want, got, "read at " + roff + " after op " + i);
                }
            }
        }
    }

    static void assertCheckClean(Path img) {
        QemuImg.Out o = QemuImg.run("qemu-img", "check", img.toString());
        assertEquals(0, o.rc(), "qemu-img check " + img + ":\n" + o.stdout() + o.stderr());
    }

    static void assertSame(Path img, Path raw) {
        QemuImg.Out o = QemuImg.run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", img.toString(), raw.toString());
        assertEquals(0, o.rc(), "qemu-img compare " + img + " " + raw + ":\n" + o.stdout() + o.stderr());
    }

    @ParameterizedTest(name = "cluster_size={0} compat={1} refcount_bits={2}")
    @CsvSource({"65536,1.1,16", "4096,1.1,16", "2097152,1.1,16", "4096,0.10,16", "65536,0.10,16", "512,1.1,16",
            "4096,1.1,1", "4096,1.1,8", "65536,1.1,64"})
    void freshImage(int cluster, String compat, int refbits) throws Exception {
        Path img = tmp.resolve("w.qcow2");
        QemuImg.create(img, "cluster_size=" + cluster + ",compat=" + compat
                + (refbits != 16 ? ",refcount_bits=" + refbits : ""), "24M");
        Path truth = tmp.resolve("w.raw");
        Files.write(truth, new byte[0]);
        try (DiskImage d = Images.open(img.toString(), null, false)) {
            randomOps(d, truth, cluster + refbits, 600);
        }
        assertCheckClean(img);
        assertSame(img, truth);
        // reopened: the same again
        try (DiskImage d = Images.open(img.toString(), null, false)) {
            randomOps(d, truth, 99, 100);
        }
        assertCheckClean(img);
        assertSame(img, truth);
    }

    @ParameterizedTest(name = "cluster_size={0} compat={1} backing={2}")
    @CsvSource({"65536,1.1,qcow2", "4096,1.1,raw", "65536,0.10,qcow2", "4096,0.10,raw", "2097152,1.1,qcow2"})
    void backedImage(int cluster, String compat, String bfmt) throws Exception {
        Path base = tmp.resolve("base." + bfmt);
        if (bfmt.equals("raw")) {
            byte[] b = new byte[12 << 20];
            new Random(5).nextBytes(b);
            Files.write(base, b);
        } else {
            QemuImg.create(base, "cluster_size=65536", "12M");
            QemuImg.io(base, "write -P 0xa1 0 12M", "write -P 0xa2 100k 7k");
        }
        Path top = tmp.resolve("top.qcow2");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=" + cluster + ",compat=" + compat,
                "-b", base.getFileName().toString(), "-F", bfmt, top.toString(), "16M");
        Path truth = QemuImg.toRaw(top, tmp.resolve("truth.raw"));
        long baseSum = Files.size(base);
        try (DiskImage d = Images.open(top.toString(), null, false)) {
            randomOps(d, truth, cluster, 500);
        }
        assertCheckClean(top);
        assertSame(top, truth);
        assertEquals(baseSum, Files.size(base), "the backing file is never written");
        assertCheckCleanIfQcow2(base, bfmt);
    }

    private static void assertCheckCleanIfQcow2(Path p, String fmt) {
        if (fmt.equals("qcow2")) {
            assertCheckClean(p);
        }
    }

    @Test
    void overCompressedClusters() throws Exception {
        Path raw = tmp.resolve("src.raw");
        byte[] b = new byte[4 << 20];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) ((i / 1000) & 0x3f);
        }
        Files.write(raw, b);
        Path img = tmp.resolve("c.qcow2");
        QemuImg.ok("qemu-img", "convert", "-c", "-O", "qcow2", "-o", "cluster_size=65536", raw.toString(), img.toString());
        try (DiskImage d = Images.open(img.toString(), null, false)) {
            randomOps(d, raw, 11, 300);
        }
        assertCheckClean(img);
        assertSame(img, raw);
    }

    @Test
    void refcountBlocksAreAddedAsTheFileGrows() throws Exception {
        // 4 KiB clusters, 16-bit refcounts: one refcount block covers 8 MiB of file; write 40 MiB
        Path img = tmp.resolve("g.qcow2");
        QemuImg.create(img, "cluster_size=4096", "64M");
        Path truth = tmp.resolve("g.raw");
        try (DiskImage d = Images.open(img.toString(), null, false); NativeBuffer buf = new NativeBuffer(1 << 20);
                RandomAccessFile t = new RandomAccessFile(truth.toFile(), "rw")) {
            t.setLength(d.size());
            Random r = new Random(2);
            for (long off = 0; off < (40 << 20); off += 1 << 20) {
                byte[] data = new byte[1 << 20];
                r.nextBytes(data);
                buf.put(0, data, 0, data.length);
                assertEquals(0, d.write(off, data.length, buf.address()));
                t.seek(off);
                t.write(data);
            }
        }
        assertCheckClean(img);
        assertSame(img, truth);
    }

    /**
     * A live migration's hand-over on a shared image: the destination opens the file first, the source goes on
     * writing (new L2 tables, refcount blocks, a grown refcount table: 512-byte clusters), flushes, and the
     * destination reloads and writes on; the source then closes (its process ends) while the destination still
     * writes. The image is clean and holds every write. Without the flush's hand-back and the reload the destination
     * would allocate clusters the source used and read stale tables.
     */
    @ParameterizedTest(name = "cluster_size={0}")
    @CsvSource({"512", "65536"})
    void handOverToAnotherOpenOfTheFile(int cluster) throws Exception {
        Path img = tmp.resolve("m.qcow2");
        QemuImg.create(img, "cluster_size=" + cluster, "24M");
        Path truth = tmp.resolve("m.raw");
        Files.write(truth, new byte[0]);
        DiskImage dst = Images.open(img.toString(), null, false);
        try {
            DiskImage src = Images.open(img.toString(), null, false);
            try {
                randomOps(src, truth, 7, 400);
                assertEquals(0, src.flush());
                dst.reload();
                randomOps(dst, truth, 8, 150);
            } finally {
                src.close();
            }
            randomOps(dst, truth, 9, 150);
        } finally {
            dst.close();
        }
        assertCheckClean(img);
        assertSame(img, truth);
    }
}

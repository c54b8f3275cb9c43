package dev.jvmm.virtio.blk.qcow2;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.virtio.VirtioException;
import java.io.File;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile images, made by patching the headers and tables of real qemu-img images: each is refused with an error
 * naming what is wrong (at open, or for the request that meets it), and no file descriptor is left open.
 */
class Qcow2HostileTest {
    @TempDir
    Path tmp;
    Path img;

    /** Descriptors of this process open on files under the test's directory (the images). */
    int openFds() {
        int n = 0;
        for (File f : Objects.requireNonNull(new File("/proc/self/fd").listFiles())) {
            try {
                if (Files.readSymbolicLink(f.toPath()).startsWith(tmp)) {
                    n++;
                }
            } catch (java.io.IOException e) {
                // closed while listing
            }
        }
        return n;
    }

    @BeforeEach
    void make() {
        img = tmp.resolve("h.qcow2");
        QemuImg.create(img, "cluster_size=65536", "16M");
        QemuImg.io(img, "write -P 0x42 0 256k");
    }


    void patch(long off, long v, int bytes) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(off);
            switch (bytes) {
                case 1 -> f.writeByte((int) v);
                case 4 -> f.writeInt((int) v);
                default -> f.writeLong(v);
            }
        }
    }

    long read64(long off) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "r")) {
            f.seek(off);
            return f.readLong();
        }
    }

    void refused(String expect) {
        for (boolean ro : new boolean[] {true, false}) {
            int before = openFds();
            var e = assertThrows(VirtioException.class, () -> Images.open(img.toString(), null, ro).close());
            assertEquals(0, before);
            assertEquals(0, openFds(), "no file descriptor left open");
            assertTrue(e.getMessage().contains(expect), "expected \"" + expect + "\" in: " + e.getMessage());
            assertTrue(e.getMessage().contains(img.toString()), "names the file: " + e.getMessage());
        }
    }

    @Test
    void headerFeaturesRefusedByName() throws Exception {
        patch(32, 2, 4);
        refused("encrypted image (crypt_method 2, LUKS)");
        patch(32, 0, 4);
        patch(72, 4, 8);
        refused("external data file");
        patch(72, 16, 8);
        refused("extended L2 entries");
        patch(72, 1L << 7, 8);
        refused("unknown incompatible feature bit 7");
        patch(72, 8, 8);
        patch(104, 1, 1);
        refused("zstd compression (compression_type=zstd) is not supported");
        patch(72, 0, 8);
        patch(104, 0, 1);
        patch(4, 4, 4);
        refused("qcow2 version 4 is not supported");
    }

    @Test
    void badSizesRefused() throws Exception {
        patch(100, 100, 4);
        refused("bad header size: header_length 100");
        patch(100, 112, 4);
        patch(20, 30, 4);
        refused("cluster_bits 30 is outside 9..21");
        patch(20, 16, 4);
        patch(36, 0x7fffffff, 4);
        refused("larger than 32 MiB");
        patch(36, 1, 4);
        patch(24, 1L << 50, 8);
        refused("needs 2097152 L1 entries but the L1 table has 1");
        patch(24, 16 << 20, 8);
        patch(40, 1L << 40, 8);
        refused("L1 table at 1099511627776 (8 bytes) lies past the end of the file");
        patch(40, 3 * 65536, 8);
        patch(48, 65536 + 512, 8);
        refused("refcount table offset 66048 is not a cluster boundary");
        patch(48, 3 * 65536, 8);
        refused("overlapping metadata: the L1 table at 196608 overlaps the refcount table at 196608");
        patch(48, 65536, 8);
        patch(56, 1 << 20, 4);
        refused("refcount table of 1048576 clusters");
        patch(56, 1, 4);
        patch(16, 5000, 4);
        patch(8, 200, 8);
        refused("backing_file_size 5000 is outside 1..1023");
    }

    @Test
    void badTablesFailTheRequestThatMeetsThem() throws Exception {
        long l1 = read64(40);
        long l2 = read64(l1) & 0x00ff_ffff_ffff_fe00L;
        // an L2 table past the end of the file
        patch(l1, (1L << 63) | (1L << 40), 8);
        assertReadFails("past the end of the file");
        // an L2 table on top of the refcount table (overlapping metadata)
        patch(l1, (1L << 63) | read64(48), 8);
        assertReadFails("overlaps the refcount table");
        // an L2 table over the header
        patch(l1, 1L << 63, 8);
        patch(l1, (1L << 63) | 512, 8);
        assertReadFails("not cluster-aligned");
        patch(l1, (1L << 63) | l2, 8);
        // a data cluster past the end of the file
        patch(l2, (1L << 63) | (1L << 45), 8);
        assertReadFails("data cluster 0 at 35184372088832 lies past the end of the file");
        // reserved bits
        patch(l2, (1L << 63) | (1L << 58) | 0x50000, 8);
        assertReadFails("has reserved bits set");
        // a compressed cluster whose data lies past the end
        patch(l2, (1L << 62) | (1L << 40), 8);
        assertReadFails("lies outside the file");
        QemuImg.Out o = QemuImg.run("qemu-img", "check", img.toString());
        assertEquals(2, o.rc(), "qemu-img agrees it is corrupt: " + o.stdout());
        var bos = new java.io.ByteArrayOutputStream();
        var r = ImageTool.check(img.toString(), Qcow2Check.Repair.NONE, new java.io.PrintStream(bos, true));
        assertEquals(2, r.exitCode(), bos.toString());
        assertTrue(bos.toString().contains("lies outside the file"), bos.toString());
    }

    void assertReadFails(String expect) {
        try (DiskImage d = Images.open(img.toString(), null, false); NativeBuffer b = new NativeBuffer(65536)) {
            assertEquals(-Errno.EIO, d.read(0, 65536, b.address()));
            assertEquals(-Errno.EIO, d.write(0, 4096, b.address()));
            assertEquals(1 + 1, ((Qcow2Image) d).errors(), "each failure counted");
        }
        // the reason is what the error says: read it through the mapping
        try (DiskImage d = Images.open(img.toString(), null, true)) {
            var q = (Qcow2Image) d;
            var e = assertThrows(VirtioException.class, () -> {
                synchronized (q) {
                    q.checkEntry(q.entry(0), 0);
                }
            });
            assertTrue(e.getMessage().contains(expect), "expected \"" + expect + "\" in: " + e.getMessage());
            assertTrue(e.getMessage().contains("corrupt image"), e.getMessage());
        }
    }

    @Test
    void refcountOverflowIsACorruption() throws Exception {
        Path one = tmp.resolve("one.qcow2");
        QemuImg.create(one, "refcount_bits=1", "4M");
        QemuImg.io(one, "write -P 1 0 64k", "write -P 2 64k 64k");
        img = one;
        long l1 = read64(40);
        long l2 = read64(l1) & 0x00ff_ffff_ffff_fe00L;
        long first = read64(l2);
        patch(l2 + 8, first, 8); // two guest clusters share one host cluster: refcount 2 does not fit in 1 bit
        var bos = new java.io.ByteArrayOutputStream();
        var r = ImageTool.check(one.toString(), Qcow2Check.Repair.NONE, new java.io.PrintStream(bos, true));
        assertEquals(2, r.exitCode());
        assertTrue(bos.toString().contains("refcount overflow"), bos.toString());
    }

    @Test
    void backingLoopsRefused() throws Exception {
        Path a = tmp.resolve("a.qcow2");
        Path b = tmp.resolve("b.qcow2");
        QemuImg.create(a, "", "1M");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", b.toString());
        QemuImg.ok("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", a.toString());
        img = b;
        refused("backing chain loop");
        Path self = tmp.resolve("self.qcow2");
        QemuImg.create(self, "", "1M");
        QemuImg.ok("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", "self.qcow2", "-F", "qcow2", self.toString());
        img = self;
        refused("backing chain loop");
        Path orphan = tmp.resolve("orphan.qcow2");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "gone.qcow2", "-F", "qcow2", "-u", orphan.toString(),
                "1M");
        img = orphan;
        refused("cannot open its backing file " + tmp.resolve("gone.qcow2") + ": ENOENT");
    }

    @Test
    void truncatedAndGarbageFilesRefused() throws Exception {
        Files.write(img, new byte[] {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3});
        var e = assertThrows(VirtioException.class, () -> Images.open(img.toString(), "qcow2", true));
        assertTrue(e.getMessage().contains("too short for a qcow2 header"), e.getMessage());
    }
}

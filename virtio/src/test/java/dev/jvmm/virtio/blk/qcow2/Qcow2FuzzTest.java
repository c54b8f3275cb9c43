package dev.jvmm.virtio.blk.qcow2;

import static org.junit.jupiter.api.Assertions.*;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.sys.MemoryGuard;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.virtio.VirtioException;
import java.io.File;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * Fuzz target: a hostile qcow2 image opened and used. Per input: a valid image made by jvmm (v3 or v2, 4 KiB
 * clusters, 4 MiB, some clusters written, one zeroed, one discarded) with up to 12 patches of 1, 2, 4 or 8 bytes
 * aimed at its header, L1 table, refcount table, refcount block or L2 table (or, for some inputs, the input's bytes as
 * the whole file); opened read-only or read-write; then up to 8 reads, writes, discards and write-zeroes at fuzzed
 * offsets and lengths, and a flush.
 * <p>Invariants: opening throws nothing but a {@link VirtioException} naming the file; no descriptor on the image is
 * left open after a refusal or a close; every operation returns 0 or a negative errno (never throws); every memory
 * access stays in memory jvmm owns ({@link MemoryGuard}); a read-only open never changes the file; the file never
 * grows by more than what the writes can allocate.
 */
class Qcow2FuzzTest {
    private static final int CLUSTER = 4096;
    private static final long SIZE = 4 << 20;
    private static byte[] v3, v2;
    private static Path dir;

    private static synchronized byte[] template(boolean version3) throws Exception {
        if (v3 == null) {
            dir = Files.createTempDirectory("qcow2-fuzz");
            dir.toFile().deleteOnExit();
            v3 = make("1.1");
            v2 = make("0.10");
        }
        return version3 ? v3 : v2;
    }

    private static byte[] make(String compat) throws Exception {
        Path p = dir.resolve("template-" + compat + ".qcow2");
        ImageTool.create(p.toString(), "qcow2", SIZE, null, null, CLUSTER, compat);
        try (DiskImage d = Images.open(p.toString(), "qcow2", false); NativeBuffer b = new NativeBuffer(65536)) {
            for (int i = 0; i < 65536; i++) {
                b.putByte(i, i * 7);
            }
            assertEquals(0, d.write(0, 65536, b.address()));
            assertEquals(0, d.write(3 << 20, 8192, b.address()));
            assertEquals(0, d.write(1 << 20, 4096, b.address()));
            assertEquals(0, d.writeZeroes(8192, 4096, false));
            assertEquals(0, d.discard(16384, 4096));
        }
        byte[] b = Files.readAllBytes(p);
        Files.delete(p);
        return b;
    }

    private static int openFdsOn(Path file) {
        int n = 0;
        for (File f : Objects.requireNonNull(new File("/proc/self/fd").listFiles())) {
            try {
                if (Files.readSymbolicLink(f.toPath()).equals(file)) {
                    n++;
                }
            } catch (java.io.IOException e) {
                // closed while listing
            }
        }
        return n;
    }

    @FuzzTest(maxDuration = "5m")
    void hostileImage(FuzzedDataProvider in) throws Exception {
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        boolean version3 = in.consumeBoolean();
        byte[] img = template(version3).clone();
        if (in.consumeInt(0, 15) == 0) {
            img = in.consumeBytes(1 << 16);
        } else {
            ByteBuffer b = ByteBuffer.wrap(img);
            long l1 = b.getLong(40), rt = b.getLong(48);
            long rb = rt + 8 <= img.length ? b.getLong((int) rt) : 0;
            long l2 = l1 + 8 <= img.length ? b.getLong((int) l1) & 0x00ff_ffff_ffff_fe00L : 0;
            long[] regions = {0, l1, rt, rb, l2};
            int patches = in.consumeInt(0, 12);
            for (int i = 0; i < patches; i++) {
                long base = regions[in.consumeInt(0, regions.length - 1)];
                int width = new int[] {1, 2, 4, 8}[in.consumeInt(0, 3)];
                long off = base + in.consumeInt(0, base == 0 ? 160 : CLUSTER - 8);
                if (off < 0 || off + width > img.length) {
                    continue;
                }
                long v = in.consumeLong();
                for (int k = 0; k < width; k++) {
                    img[(int) off + k] = (byte) (v >>> (8 * (width - 1 - k)));
                }
            }
        }
        Path file = dir.resolve("fuzz.qcow2");
        Files.write(file, img);
        boolean ro = in.consumeBoolean();
        DiskImage d;
        try {
            d = Images.open(file.toString(), null, ro);
        } catch (VirtioException e) {
            assertTrue(e.getMessage().contains(file.toString()) || e.getMessage().contains("backing"), e.getMessage());
            assertEquals(0, openFdsOn(file), "a refused image leaves no descriptor open");
            return;
        } catch (IllegalArgumentException e) {
            // probed raw: jvmm serves raw files without this layer
            assertEquals(0, openFdsOn(file));
            return;
        }
        long size = d.size();
        int writes = 0;
        try (NativeBuffer buf = new NativeBuffer(256 << 10)) {
            int ops = in.consumeInt(0, 8);
            for (int i = 0; i < ops && size >= 512; i++) {
                int kind = in.consumeInt(0, 3);
                long off = Math.floorMod(in.consumeLong(), size / 512) * 512;
                long len = Math.min(size - off, 512L * in.consumeInt(1, 512));
                int r = switch (kind) {
                    case 0 -> d.read(off, len, buf.address());
                    case 1 -> {
                        writes++;
                        yield d.write(off, len, buf.address());
                    }
                    case 2 -> d.discard(off, len);
                    default -> {
                        writes++;
                        yield d.writeZeroes(off, len, in.consumeBoolean());
                    }
                };
                assertTrue(r <= 0, "an operation returns 0 or -errno: " + r);
            }
            assertTrue(d.flush() <= 0);
        } finally {
            d.close();
        }
        assertEquals(0, openFdsOn(file), "a closed image leaves no descriptor open");
        byte[] after = Files.readAllBytes(file);
        if (ro) {
            assertArrayEquals(img, after, "a read-only open never changes the file");
        } else {
            // each write allocates at most its clusters, their L2 tables and refcount structures
            long bound = img.length + (long) writes * ((256 << 10) + 64 * CLUSTER) + (16L << 20);
            assertTrue(after.length <= bound, "file grew from " + img.length + " to " + after.length);
        }
    }

    @org.junit.jupiter.api.Test
    void templatesAreClean() throws Exception {
        for (boolean v : new boolean[] {true, false}) {
            Path p = dir == null ? null : dir;
            byte[] t = template(v);
            Path f = dir.resolve("t.qcow2");
            Files.write(f, t);
            var out = new java.io.ByteArrayOutputStream();
            var r = ImageTool.check(f.toString(), Qcow2Check.Repair.NONE, new java.io.PrintStream(out, true));
            assertEquals(0, r.exitCode(), out.toString());
            assertTrue(Arrays.equals(t, Files.readAllBytes(f)));
            assertNotNull(p == null ? dir : p);
        }
    }
}

package dev.jvmm.virtio.blk.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The request path of a qcow2 disk allocates nothing on the Java heap: translating reads and writes of allocated
 * clusters, and first writes that allocate clusters (reservations included), measured by the JVM's count of the
 * bytes the translating thread allocated. The checks of every offset read from the image used to build their error
 * text for every cluster a request touched (two strings per cluster). Measured in a JVM of its own: the test JVMs run
 * with {@code MemoryGuard} on, whose checks of every native access allocate (as production's do not).
 */
class Qcow2NoAllocationTest {
    @TempDir
    Path tmp;

    @Test
    void translatingRequestsAllocatesNothing() throws Exception {
        Path img = tmp.resolve("a.qcow2");
        QemuImg.create(img, "cluster_size=65536", "256M");
        long used = allocatedIn(Main.class, img);
        // a few KiB in all (the reservations' system calls through jffi); the per-cluster error texts were 44 MB
        assertTrue(used < 65536, "translating 4184 requests of 1 MiB allocated " + used + " bytes");
        Qcow2WriteTest.assertCheckClean(img);
    }

    /** Runs {@code main} on {@code img} in a JVM of its own and returns the bytes it says it allocated. */
    private long allocatedIn(Class<?> main, Path img) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Path out = tmp.resolve(main.getSimpleName() + ".out");
        Process p = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"), main.getName(),
                img.toString())).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the measuring JVM did not finish");
        String text = Files.readString(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), text);
        String line = text.lines().filter(l -> l.startsWith("ALLOCATED ")).findFirst().orElseThrow(() ->
                new AssertionError("no ALLOCATED line in:\n" + text));
        return Long.parseLong(line.substring("ALLOCATED ".length()).trim());
    }

    /**
     * Reads of compressed clusters (served inline: the entry checked, the data read and inflated into the caller's
     * buffer) allocate nothing either. The check of a compressed entry used to return its range as a new array, and
     * the read of its data to build the text naming it in an error (1.6 MB over these reads).
     */
    @Test
    void readingCompressedClustersAllocatesNothing() throws Exception {
        Path img = tmp.resolve("src.qcow2");
        QemuImg.create(img, "cluster_size=65536", "16M");
        QemuImg.io(img, "write -P 0x5a 0 8M", "write -P 0xa5 8M 8M");
        Path packed = tmp.resolve("c.qcow2");
        QemuImg.ok("qemu-img", "convert", "-c", "-O", "qcow2", img.toString(), packed.toString());
        long used = allocatedIn(ReadMain.class, packed);
        // 20 passes over 256 compressed clusters: an array per cluster would be 5120 arrays of 40 bytes
        assertTrue(used < 16384, "reading 16 MiB of compressed clusters 20 times allocated " + used + " bytes");
    }

    /** The measuring JVM for compressed reads: IMAGE (16 MiB, 0x5a then 0xa5). Prints "ALLOCATED N". */
    public static final class ReadMain {
        public static void main(String[] args) {
            com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long me = Thread.currentThread().getId();
            Mapping m = new Mapping();
            long mib = 1 << 20;
            long used;
            try (DiskImage d = Images.open(args[0], null, true);
                    dev.jvmm.sys.NativeBuffer buf = new dev.jvmm.sys.NativeBuffer(mib)) {
                pass(d, m, buf.address(), mib); // warm-up
                long before = mx.getThreadAllocatedBytes(me);
                for (int i = 0; i < 20; i++) {
                    pass(d, m, buf.address(), mib);
                }
                used = mx.getThreadAllocatedBytes(me) - before;
            }
            System.out.println("ALLOCATED " + used);
        }

        /** Maps and reads the image 1 MiB at a time, checking that every cluster was compressed and reads right. */
        private static void pass(DiskImage d, Mapping m, long buf, long mib) {
            for (long off = 0; off < 16 * mib; off += mib) {
                d.map(off, mib, false, m);
                if (m.kind != Mapping.INLINE) {
                    throw new IllegalStateException("map at " + off + ": " + m + " (expected a compressed cluster)");
                }
                if (d.read(off, mib, buf) != 0) {
                    throw new IllegalStateException("read at " + off + " failed");
                }
                byte want = off < 8 * mib ? (byte) 0x5a : (byte) 0xa5;
                if (dev.jvmm.sys.Native.getByte(buf) != want || dev.jvmm.sys.Native.getByte(buf + mib - 1) != want) {
                    throw new IllegalStateException("read at " + off + " returned the wrong bytes");
                }
            }
        }
    }

    /** The measuring JVM: IMAGE. Prints "ALLOCATED N". */
    public static final class Main {
        public static void main(String[] args) {
            com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long me = Thread.currentThread().getId();
            Mapping m = new Mapping();
            long used;
            try (DiskImage d = Images.open(args[0], null, false)) {
                ((Qcow2Image) d).deferFreshL2(true);
                long mib = 1 << 20;
                // warm-up: the first reservations, the L2 table, every method run once
                for (long off = 0; off < 16 * mib; off += mib) {
                    walk(d, off, mib, true, m);
                    walk(d, off, mib, false, m);
                }
                long before = mx.getThreadAllocatedBytes(me);
                for (long off = 16 * mib; off < 200 * mib; off += mib) {
                    walk(d, off, mib, true, m);          // first writes: clusters allocated, reservations taken
                }
                for (int i = 0; i < 20; i++) {
                    for (long off = 0; off < 200 * mib; off += mib) {
                        walk(d, off, mib, false, m);     // reads of allocated clusters
                        walk(d, off, mib, true, m);      // writes in place
                    }
                }
                used = mx.getThreadAllocatedBytes(me) - before;
                if (d.writeBack() != 0) {
                    throw new IllegalStateException("write-back failed");
                }
            }
            System.out.println("ALLOCATED " + used);
        }

        /** Translates [off, off+len) the way BlkQueue does, range after range (no message built unless it fails). */
        private static void walk(DiskImage d, long off, long len, boolean write, Mapping m) {
            while (len > 0) {
                d.map(off, len, write, m);
                if (m.kind != Mapping.HOST) {
                    throw new IllegalStateException("map at " + off + ": " + m);
                }
                long n = Math.min(m.length, len);
                off += n;
                len -= n;
            }
        }
    }
}

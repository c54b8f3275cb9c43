package dev.jvmm.virtio.blk;

import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A micro benchmark of virtio-blk's engines without KVM: the real device and virtio-pci transport in this process,
 * driven by a simulated driver ({@link DepthDriver}) that keeps 1 or 16 requests in flight on one queue (a new one
 * published as each completes, one kick per batch, waiting on the MSI-X eventfd) over an image file, for each engine,
 * workload and cache mode asked. Prints IOPS, MB/s and the mean completion time per case.
 *
 * <pre>
 * java -cp CLASSPATH dev.jvmm.virtio.blk.VirtioBlkBench [dir=/var/tmp] [seconds=5] [sizeMiB=1024]
 *     [aio=threads,io_uring] [cache=none] [depth=1,16] [work=randread,randwrite,seqread]
 * </pre>
 * randread/randwrite: 4 KiB at random 4 KiB-aligned offsets; seqread/seqwrite: 128 KiB in order. The image is filled
 * with data first (reads of holes would not reach the disk).
 */
public final class VirtioBlkBench {
    static final long HDR = 0x80000, STATUS = 0x90000, DATA = 0x100000;
    static final int MAX_DEPTH = 64, BUF = 128 * 1024;

    record Case(AioMode aio, CacheMode cache, String work, int depth) {
    }

    record Result(Case c, long ops, double seconds, long bytes, int maxInFlight, long deviceAllocated) {
        double iops() {
            return ops / seconds;
        }

        double mbps() {
            return bytes / seconds / 1e6;
        }

        /** Mean time a request spends in the device, from its publication (Little's law). */
        double meanMicros() {
            return c.depth() / iops() * 1e6;
        }
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of("/var/tmp");
        double seconds = 5;
        long sizeMiB = 1024;
        List<AioMode> aios = List.of(AioMode.THREADS, AioMode.IO_URING);
        List<CacheMode> caches = List.of(CacheMode.NONE);
        List<Integer> depths = List.of(1, 16);
        List<String> works = List.of("randread", "randwrite", "seqread");
        for (String a : args) {
            String k = a.substring(0, a.indexOf('=')), v = a.substring(a.indexOf('=') + 1);
            switch (k) {
                case "dir" -> dir = Path.of(v);
                case "seconds" -> seconds = Double.parseDouble(v);
                case "sizeMiB" -> sizeMiB = Long.parseLong(v);
                case "aio" -> aios = List.of(v.split(",")).stream().map(AioMode::parse).toList();
                case "cache" -> caches = List.of(v.split(",")).stream().map(CacheMode::parse).toList();
                case "depth" -> depths = List.of(v.split(",")).stream().map(Integer::parseInt).toList();
                case "work" -> works = List.of(v.split(","));
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        Path img = Files.createTempFile(dir, "jvmm-blk-bench", ".img");
        try {
            fill(img, sizeMiB << 20);
            System.out.printf("image %s: %d MiB; %s; %d CPUs%n", img, sizeMiB, System.getProperty("java.vm.version"),
                    Runtime.getRuntime().availableProcessors());
            List<Result> results = new ArrayList<>();
            for (CacheMode cache : caches) {
                for (String work : works) {
                    for (int depth : depths) {
                        for (AioMode aio : aios) {
                            Result r = run(new Case(aio, cache, work, depth), img, seconds);
                            results.add(r);
                            System.out.printf(Locale.ROOT, "%-9s cache=%-12s aio=%-8s depth %2d: %9.0f IOPS %8.1f MB/s %8.1f us"
                                    + " (max in flight %d; device threads allocated %.1f bytes/request)%n", work, cache, aio,
                                    depth, r.iops(), r.mbps(), r.meanMicros(), r.maxInFlight(),
                                    (double) r.deviceAllocated() / Math.max(1, r.ops()));
                        }
                    }
                }
            }
        } finally {
            Files.deleteIfExists(img);
        }
    }

    /** Bytes the device's threads (queue threads and I/O threads) have allocated on the Java heap so far. */
    static long deviceAllocated() {
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("virtio-blk-0")) {
                sum += Math.max(0, mx.getThreadAllocatedBytes(t.getId()));
            }
        }
        return sum;
    }

    static void fill(Path img, long size) throws Exception {
        byte[] chunk = new byte[1 << 20];
        SplittableRandom rnd = new SplittableRandom(1);
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            for (long off = 0; off < size; off += chunk.length) {
                for (int i = 0; i < chunk.length; i += 8) {
                    long v = rnd.nextLong();
                    for (int b = 0; b < 8; b++) {
                        chunk[i + b] = (byte) (v >>> (8 * b));
                    }
                }
                f.write(chunk);
            }
            f.getFD().sync();
        }
    }

    static Result run(Case c, Path img, double seconds) throws Exception {
        boolean write = c.work().endsWith("write");
        boolean seq = c.work().startsWith("seq");
        int len = seq ? BUF : 4096;
        long blocks = Files.size(img) / len;
        try (GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, 64L << 20)));
                TestIrqs irqs = new TestIrqs()) {
            VirtioBlk blk = new VirtioBlk("virtio-blk-0", BlockBackend.open(img.toString(), false, c.cache()), 1, null,
                    c.aio());
            try (VirtioPciDevice dev = new VirtioPciDevice(blk, mem, irqs, null, -1)) {
                PciTestDriver drv = new PciTestDriver(dev, mem, 0x10000);
                drv.init(VirtioBlkTest.ALL, 1, 256);
                try (DepthDriver d = new DepthDriver(mem, drv, irqs, 0, HDR, STATUS)) {
                    SplittableRandom rnd = new SplittableRandom(7);
                    long[] next = {0};
                    int type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
                    java.util.function.IntConsumer issue = k -> {
                        long block = seq ? next[0]++ % blocks : rnd.nextLong(blocks);
                        d.publish(k, type, block * (len / 512), DATA + (long) BUF * k, len);
                    };
                    long[] ops = {0};
                    DepthDriver.Completion again = (k, status, used) -> {
                        if (status != VIRTIO_BLK_S_OK) {
                            throw new IllegalStateException("request " + k + " failed: status " + status);
                        }
                        ops[0]++;
                        issue.accept(k);
                    };
                    for (int k = 0; k < c.depth(); k++) {
                        issue.accept(k);
                    }
                    d.kick();
                    // one second of warm-up (JIT, page tables, the device's own caches), then the measured run
                    long warm = System.nanoTime() + 1_000_000_000L;
                    while (System.nanoTime() < warm) {
                        d.awaitCompletions(again);
                        d.kick();
                    }
                    ops[0] = 0;
                    long alloc0 = deviceAllocated();
                    long t0 = System.nanoTime();
                    long end = t0 + (long) (seconds * 1e9);
                    long now;
                    while ((now = System.nanoTime()) < end) {
                        if (d.awaitCompletions(again) == 0) {
                            throw new IllegalStateException("no completion in 30 s");
                        }
                        d.kick();
                    }
                    double s = (now - t0) / 1e9;
                    long alloc = deviceAllocated() - alloc0;
                    // let the last ones finish before the device goes
                    dev.quiesce();
                    return new Result(c, ops[0], s, ops[0] * len, blk.maxInFlight(), alloc);
                }
            }
        }
    }
}

package dev.jvmm.virtio.balloon;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.balloon.VirtioBalloonLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.MemoryGuard;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.pci.FuzzTransport;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * Fuzz target: virtio-balloon as a whole device behind its real virtio-pci transport. Guest RAM is two regions with a
 * hole between them: the first holds the rings and the driver's buffers, the second (2 MiB, the "balloon area") is
 * filled with a pattern before each input. Per input: the features (STATS_VQ, REPORTING, DEFLATE_ON_OOM, EVENT_IDX
 * may be dropped, which moves the reporting queue's index); up to four inflate and four deflate buffers of frame
 * numbers (in the area, in the hole, past RAM, anything; lengths not a multiple of 4, device-writable descriptors,
 * zero lengths); a stats buffer of fuzzed bytes; up to three report chains of ranges (in the area, unaligned, across
 * the hole, anywhere); a new target, valid or not. Every queue is kicked through BAR0, and the target waits (bounded)
 * for each buffer to come back or for NEEDS_RESET.
 * <p>Invariants: only guest protocol errors put the device in NEEDS_RESET (an internal error fails); every host access
 * stays in the VMM's memory ({@link MemoryGuard}); a page of the area that no frame number and no reported range named
 * keeps its pattern (nothing is released that the driver did not give); counters never exceed what was sent; the
 * device never hangs; after a reset a good driver inflates a page and gets it released.
 */
class VirtioBalloonFuzzTest {
    private static final long REGION0 = 0x80000, HOLE_END = 0x100000, AREA = HOLE_END, AREA_SIZE = 2L << 20;
    private static final long RINGS = 0x10000, BUFS = 0x60000, STATS = 0x7f000;
    private static final int QSIZE = 32;
    private static final long FEATURES = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX
            | 1L << VIRTIO_BALLOON_F_STATS_VQ | 1L << VIRTIO_BALLOON_F_REPORTING | 1L << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    private static final long DROPPABLE = 1L << VIRTIO_RING_F_EVENT_IDX | 1L << VIRTIO_BALLOON_F_STATS_VQ
            | 1L << VIRTIO_BALLOON_F_REPORTING | 1L << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    private static final long WAIT_NANOS = 10_000_000_000L;
    private static final long RAM = REGION0 + AREA_SIZE;

    static final ConcurrentLinkedQueue<String> FAILURES = new ConcurrentLinkedQueue<>();

    static {
        FuzzTransport.quietWhenFuzzing();
    }

    private static GuestMemory mem;
    private static VirtioBalloon balloon;
    private static FuzzTransport dev;
    private static PciTestDriver drv;

    private static synchronized void setUp() {
        if (dev != null) {
            return;
        }
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> FAILURES.add(t.getName() + " died: " + e));
        mem = GuestMemory.create(List.of(new GuestMemory.Range(0, REGION0), new GuestMemory.Range(AREA, AREA_SIZE)));
        balloon = new VirtioBalloon("fuzz-balloon", RAM, 0, true, true, 3600);
        dev = new FuzzTransport(balloon, mem, new TestIrqs(), FAILURES);
        drv = new PciTestDriver(dev, mem, RINGS);
    }

    /** A frame number as the input chooses it; never one of the first region's (rings and buffers are not fuzzed). */
    private static long pfn(FuzzedDataProvider in) {
        long p = switch (in.consumeInt(0, 5)) {
            case 0, 1, 2 -> (AREA >>> 12) + in.consumeInt(0, (int) (AREA_SIZE >>> 12) - 1);
            case 3 -> in.consumeInt((int) (REGION0 >>> 12), (int) (HOLE_END >>> 12) - 1); // the hole
            case 4 -> ((AREA + AREA_SIZE) >>> 12) + in.consumeInt(0, 1 << 20); // past RAM
            default -> in.consumeInt() & 0xffffffffL;
        };
        return p < (REGION0 >>> 12) ? p + (AREA >>> 12) : p;
    }

    @FuzzTest(maxDuration = "5m")
    void queues(FuzzedDataProvider in) {
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        setUp();
        FAILURES.clear();
        long features = FEATURES & ~(in.consumeLong() & DROPPABLE);
        boolean stats = (features & 1L << VIRTIO_BALLOON_F_STATS_VQ) != 0;
        boolean reporting = (features & 1L << VIRTIO_BALLOON_F_REPORTING) != 0;
        int queues = 2 + (stats ? 1 : 0) + (reporting ? 1 : 0);
        mem.fill(AREA, AREA_SIZE, (byte) 0xa5);
        assertNotEquals(0, drv.init(features, queues, QSIZE) & VIRTIO_CONFIG_S_DRIVER_OK);
        VirtioBalloon.Status before = balloon.status();
        BitSet named = new BitSet(); // pages of the area a frame number or a report named
        long sentFrames = 0;
        long buf = BUFS;
        int[] chains = new int[queues];
        // inflate and deflate buffers
        for (int q = 0; q < 2; q++) {
            TestDriver t = drv.rings.get(q);
            int n = in.consumeInt(0, 4), d = 0;
            for (int c = 0; c < n; c++) {
                int segs = in.consumeInt(1, 2), head = d;
                for (int s = 0; s < segs; s++) {
                    int count = in.consumeInt(0, 64);
                    for (int i = 0; i < count; i++) {
                        long p = pfn(in);
                        mem.putInt(buf + 4L * i, (int) p);
                        markPage(named, p << 12);
                    }
                    sentFrames += count;
                    int len = in.consumeInt(0, 15) == 0 ? in.consumeInt(0, 4 * count + 3) : 4 * count;
                    int flags = (in.consumeInt(0, 15) == 0 ? VIRTQ_DESC_F_WRITE : 0) | (s < segs - 1 ? VIRTQ_DESC_F_NEXT : 0);
                    t.desc(d, buf, len, flags, d + 1);
                    d++;
                    buf += 0x200;
                }
                t.publish(head);
                chains[q]++;
            }
        }
        // the stats buffer
        boolean statsSent = false;
        if (stats && in.consumeBoolean()) {
            byte[] b = in.consumeBytes(in.consumeInt(1, 200));
            mem.write(STATS, b, 0, b.length);
            int len = in.consumeInt(0, 7) == 0 ? in.consumeInt(0, 0x1000) : b.length;
            drv.rings.get(2).desc(0, STATS, len, in.consumeInt(0, 7) == 0 ? VIRTQ_DESC_F_WRITE : 0, 0);
            drv.rings.get(2).publish(0);
            statsSent = true;
        }
        // report chains
        int reportQ = reporting ? (stats ? 3 : 2) : -1;
        if (reporting) {
            TestDriver t = drv.rings.get(reportQ);
            int n = in.consumeInt(0, 3), d = 0;
            for (int c = 0; c < n; c++) {
                int segs = in.consumeInt(1, 3), head = d;
                for (int s = 0; s < segs; s++) {
                    long len = switch (in.consumeInt(0, 3)) {
                        case 0 -> 2L << 20;
                        case 1 -> 4096L * in.consumeInt(0, 64);
                        case 2 -> in.consumeInt(0, 1 << 20);
                        default -> in.consumeInt() & 0xffffffffL;
                    };
                    long a = switch (in.consumeInt(0, 3)) {
                        case 0 -> AREA + 4096L * in.consumeInt(0, 511);
                        case 1 -> AREA + in.consumeInt(0, (int) AREA_SIZE - 1);
                        case 2 -> REGION0 - in.consumeInt(0, 0x1000); // across the hole
                        default -> in.consumeLong();
                    };
                    if (a < REGION0 && a + len > 0 && a < REGION0 - 0x1000) {
                        a += AREA; // not over the rings and buffers
                    }
                    for (long p = Math.max(a & -4096L, AREA); len > 0 && p < a + len && p < AREA + AREA_SIZE; p += 4096) {
                        markPage(named, p);
                    }
                    int flags = (in.consumeInt(0, 15) == 0 ? 0 : VIRTQ_DESC_F_WRITE) | (s < segs - 1 ? VIRTQ_DESC_F_NEXT : 0);
                    t.desc(d, a, (int) len, flags, d + 1);
                    d++;
                }
                t.publish(head);
                chains[reportQ]++;
            }
        }
        // a new target
        if (in.consumeBoolean()) {
            long target = in.consumeBoolean() ? 4096L * in.consumeInt(0, (int) (RAM >>> 12)) : in.consumeLong();
            try {
                balloon.setTarget(target);
                assertEquals(target, balloon.targetBytes());
            } catch (IllegalArgumentException e) {
                assertTrue(target < 0 || target % 4096 != 0 || target >= RAM, e.getMessage());
            }
        }
        for (int q = 0; q < queues; q++) {
            drv.kick(q);
        }
        long statsBefore = before.statsUpdates();
        boolean wantStats = statsSent;
        boolean broken = await(() -> {
            for (int q = 0; q < queues; q++) {
                if (q != (stats ? 2 : -1) && drv.rings.get(q).usedIdx() != chains[q]) {
                    return false;
                }
            }
            return !wantStats || balloon.status().statsUpdates() > statsBefore;
        });
        VirtioBalloon.Status after = balloon.status();
        assertTrue(after.inflatedPages() + after.deflatedPages() + after.refusedPages() - before.inflatedPages()
                - before.deflatedPages() - before.refusedPages() <= sentFrames, "more frames counted than sent");
        assertTrue(after.releasedBytes() - before.releasedBytes() <= 4096L * sentFrames, "released more than sent");
        for (int page = 0; page < (int) (AREA_SIZE >>> 12); page++) {
            if (!named.get(page)) {
                long gpa = AREA + 4096L * page;
                assertEquals((byte) 0xa5, mem.getByte(gpa), "page 0x" + Long.toHexString(gpa) + " was released, "
                        + "but no frame number or report named it");
                assertEquals((byte) 0xa5, mem.getByte(gpa + 4095));
            }
        }
        if (!broken) {
            assertEquals(0, dev.status() & VIRTIO_CONFIG_S_NEEDS_RESET);
        }
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
        worksAfterReset();
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
    }

    private static void markPage(BitSet named, long gpa) {
        if (gpa >= AREA && gpa < AREA + AREA_SIZE) {
            named.set((int) ((gpa - AREA) >>> 12));
        }
    }

    /** Waits, bounded, until {@code done} or NEEDS_RESET; returns whether the device went NEEDS_RESET. */
    private static boolean await(java.util.function.BooleanSupplier done) {
        long deadline = System.nanoTime() + WAIT_NANOS;
        for (int spin = 0; ; spin++) {
            if ((dev.status() & VIRTIO_CONFIG_S_NEEDS_RESET) != 0) {
                return true;
            }
            if (done.getAsBoolean()) {
                return false;
            }
            assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
            assertTrue(System.nanoTime() < deadline, () -> "the device hung; " + FAILURES);
            if (spin < 100) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
    }

    /** After a reset, a fresh driver inflates one page of the area and the host gets it. */
    private static void worksAfterReset() {
        drv.write(CommonCfg.DEVICE_STATUS, 1, 0);
        assertEquals(0, drv.status(), "the reset cleared the status");
        assertNotEquals(0, drv.init(FEATURES, 4, 16) & VIRTIO_CONFIG_S_DRIVER_OK);
        mem.fill(AREA, 4096, (byte) 0x5a);
        mem.putInt(BUFS, (int) (AREA >>> 12));
        TestDriver t = drv.rings.get(0);
        t.desc(0, BUFS, 4, 0, 0);
        t.publish(0);
        drv.kick(0);
        assertFalse(await(() -> t.usedIdx() == 1), "a good driver after reset got NEEDS_RESET");
        assertEquals(0, mem.getByte(AREA + 100), "the inflated page was released");
        drv.write(CommonCfg.DEVICE_STATUS, 1, 0);
    }
}

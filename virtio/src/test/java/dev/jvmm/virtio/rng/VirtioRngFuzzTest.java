package dev.jvmm.virtio.rng;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Fuzz target: virtio-rng as a whole device behind its real virtio-pci transport, reading /dev/urandom. Two devices
 * live for the whole run: one without a limit, one allowing 1000 bytes per hour (so that its budget runs out within a
 * run and what is left waits). Guest RAM is two regions with a hole between them. Per input: the device, the features
 * (EVENT_IDX, INDIRECT_DESC may be dropped), up to eight requests of one to four descriptors (any length, sometimes
 * device-readable, in RAM, against the hole or anywhere, sometimes in an indirect table). The target kicks and waits
 * (bounded) until every request is used, the limited device deferred the rest, or NEEDS_RESET; then it resets the
 * device and proves that a request is filled.
 * <p>Invariants: only guest protocol errors put the device in NEEDS_RESET; every access stays in memory the VMM owns
 * ({@link MemoryGuard}); the device never hangs; each used request was published, got at least one byte and no more
 * than its writable bytes; the limited device never gives more than 1000 bytes in its window.
 */
class VirtioRngFuzzTest {
    private static final long REGION0 = 0x80000, HOLE_END = 0x100000, REGION1 = 0x40000;
    private static final long RINGS = 0x10000, TABLES = 0x20000, BUFS = 0x30000;
    private static final int QSIZE = 64;
    private static final long FEATURES = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX
            | 1L << VIRTIO_RING_F_INDIRECT_DESC;
    private static final long WAIT_NANOS = 10_000_000_000L;

    static final ConcurrentLinkedQueue<String> FAILURES = new ConcurrentLinkedQueue<>();

    static {
        FuzzTransport.quietWhenFuzzing();
    }

    record Rng(VirtioRng rng, FuzzTransport dev, PciTestDriver drv) {
    }

    private static GuestMemory mem;
    private static Rng[] devices;

    private static synchronized Rng[] devices() {
        if (devices == null) {
            Thread.setDefaultUncaughtExceptionHandler((t, e) -> FAILURES.add(t.getName() + " died: " + e));
            mem = GuestMemory.create(List.of(new GuestMemory.Range(0, REGION0), new GuestMemory.Range(HOLE_END, REGION1)));
            devices = new Rng[] {rng("fuzz-rng", 0, 0), rng("fuzz-rng-limited", 1000, TimeUnit.HOURS.toNanos(1))};
        }
        return devices;
    }

    private static Rng rng(String name, long max, long period) {
        VirtioRng r = new VirtioRng(name, "/dev/urandom", max, period);
        FuzzTransport dev = new FuzzTransport(r, mem, new TestIrqs(), FAILURES);
        return new Rng(r, dev, new PciTestDriver(dev, mem, RINGS));
    }

    @FuzzTest(maxDuration = "5m")
    void requests(FuzzedDataProvider in) {
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        Rng d = devices()[in.consumeBoolean() ? 1 : 0];
        FAILURES.clear();
        long features = FEATURES & ~(in.consumeLong() & (1L << VIRTIO_RING_F_EVENT_IDX
                | 1L << VIRTIO_RING_F_INDIRECT_DESC));
        assertNotEquals(0, d.drv.init(features, 1, QSIZE) & VIRTIO_CONFIG_S_DRIVER_OK);
        boolean indirectOk = (features & 1L << VIRTIO_RING_F_INDIRECT_DESC) != 0;
        TestDriver t = d.drv.rings.get(0);
        Map<Integer, Long> writable = new HashMap<>();
        // a buffer anywhere may land on the rings (the guest's own doing: the device fills it as told, used ring or
        // not); then the used ring is not checked
        boolean wild = false;
        int n = in.consumeInt(1, 8), next = 0;
        for (int c = 0; c < n; c++) {
            int segs = in.consumeInt(1, 4), head = next;
            boolean indirect = indirectOk && in.consumeInt(0, 3) == 0;
            long table = TABLES + 0x100L * c;
            long w = 0;
            for (int i = 0; i < segs; i++) {
                long len = switch (in.consumeInt(0, 3)) {
                    case 0, 1 -> in.consumeInt(1, 256);
                    case 2 -> in.consumeInt(1, 0x4000);
                    default -> in.consumeInt() & 0xffff_ffffL;
                };
                long addr = switch (in.consumeInt(0, 4)) {
                    case 0, 1 -> BUFS + 0x4000L * c + 0x1000L * i;
                    case 2 -> REGION0 - len;
                    case 3 -> HOLE_END + REGION1 - Math.min(len, REGION1);
                    default -> in.consumeLong();
                };
                int flags = in.consumeInt(0, 15) == 0 ? 0 : VIRTQ_DESC_F_WRITE;
                wild |= flags != 0 && overlapsRings(addr, len);
                w += flags != 0 ? len : 0;
                int f = flags | (i < segs - 1 ? VIRTQ_DESC_F_NEXT : 0);
                if (indirect) {
                    t.desc(table, i, addr, (int) len, f, i + 1);
                } else {
                    t.desc(next, addr, (int) len, f, next + 1);
                    next++;
                }
            }
            if (indirect) {
                t.desc(next++, table, 16 * segs, VIRTQ_DESC_F_INDIRECT, 0);
            }
            writable.put(head, w);
            t.publish(head);
        }
        long deferred = d.rng.deferrals();
        d.drv.kick(0);
        boolean broken = await(d, () -> t.usedIdx() == n || d.rng.deferrals() > deferred);
        for (int i = 0; !wild && i < t.usedIdx(); i++) {
            Long w = writable.get(t.usedId(i));
            assertNotNull(w, "used a head that was not published: " + t.usedId(i));
            long len = t.usedLen(i) & 0xffff_ffffL;
            assertTrue(len >= 1 && len <= w, "used length " + len + " of a request with " + w + " writable bytes");
        }
        if (!broken) {
            assertTrue(d.rng.threadAlive(), "the device thread runs");
        }
        assertTrue(d.rng.mostInAWindow() <= 1000, "the limit held: " + d.rng.mostInAWindow());
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
        if (d.rng.maxBytes() == 0) {
            worksAfterReset(d);
        } else {
            d.drv.write(CommonCfg.DEVICE_STATUS, 1, 0); // (its budget may be spent for the hour)
        }
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
    }

    /** Whether [addr, addr+len) meets the rings (RINGS, 64 KiB), in unsigned arithmetic. */
    static boolean overlapsRings(long addr, long len) {
        long end = addr + len;
        return Long.compareUnsigned(addr, RINGS + 0x10000) < 0 && (Long.compareUnsigned(end, RINGS) > 0
                || Long.compareUnsigned(end, addr) < 0);
    }

    private static boolean await(Rng d, java.util.function.BooleanSupplier done) {
        long deadline = System.nanoTime() + WAIT_NANOS;
        for (int spin = 0; ; spin++) {
            if ((d.dev.status() & VIRTIO_CONFIG_S_NEEDS_RESET) != 0) {
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

    private static void worksAfterReset(Rng d) {
        d.drv.write(CommonCfg.DEVICE_STATUS, 1, 0);
        assertNotEquals(0, d.drv.init(FEATURES, 1, QSIZE) & VIRTIO_CONFIG_S_DRIVER_OK);
        TestDriver t = d.drv.rings.get(0);
        t.desc(0, BUFS, 64, VIRTQ_DESC_F_WRITE, 0);
        t.publish(0);
        d.drv.kick(0);
        assertFalse(await(d, () -> t.usedIdx() == 1), "a good request after reset got NEEDS_RESET");
        assertEquals(64, t.usedLen(0));
        d.drv.write(CommonCfg.DEVICE_STATUS, 1, 0);
    }
}

package dev.jvmm.virtio.pci;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.VIRTIO_BLK_F_MQ;
import static org.junit.jupiter.api.Assertions.*;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.MsixCapability;
import dev.jvmm.core.pci.MsixTable;
import dev.jvmm.sys.MemoryGuard;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.blk.AioMode;
import dev.jvmm.virtio.blk.BlockBackend;
import dev.jvmm.virtio.blk.CacheMode;
import dev.jvmm.virtio.blk.VirtioBlk;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * Fuzz target: the virtio-pci transport as the guest reaches it, BAR0 and config space, in front of a real device
 * (virtio-blk with two queues over a 64 KiB image, thread-pool engine). The input is first the start of guest RAM
 * (so that queues the sequence enables find rings and chains made by the input), then, often, a driver's whole
 * initialisation with fuzzed features, queue count, queue size and ring addresses (so that the device is active with
 * its threads serving rings from the input), then a sequence of up to 96
 * operations, each a read or write of 1 to 8 bytes (as an MMIO exit delivers them, the value masked to its size) at
 * an offset in BAR0 biased towards the registers: the common configuration (feature selects and words, MSI-X config
 * vector, device status transitions including DRIVER_OK and reset, queue select, size, vector, enable and ring
 * addresses), the ISR, the device configuration, the notify area (kicks), the MSI-X table and the PBA; or a read or
 * write of 1, 2 or 4 bytes anywhere in the 4 KiB config space (command register, BAR0, MSI-X message control, the
 * PCI_CFG window's bar/offset/length/data, which reaches BAR0 again).
 * <p>Invariants: no exception escapes a BAR0 or config access (the transport documents none: bad accesses are
 * counted guest errors or NEEDS_RESET); a read returns no bits beyond its size; the PBA shows no pending bit beyond
 * the table's vectors; every host access stays inside the VMM's memory and every descriptor in guest RAM
 * ({@link MemoryGuard}); no device thread dies or reports an internal error (a default uncaught-exception handler and
 * the transport's {@code needsReset} record them); after a reset (status 0), a driver that places BAR0 again and
 * initialises the device gets DRIVER_OK and a GET_ID request answered.
 */
class VirtioPciFuzzTest {
    private static final long REGION0 = 0x40000, HOLE_END = 0x100000, REGION1 = 0x10000;
    private static final int VECTORS = 3; // two queues and the configuration vector
    static final ConcurrentLinkedQueue<String> FAILURES = new ConcurrentLinkedQueue<>();

    static {
        FuzzTransport.quietWhenFuzzing();
    }

    private static GuestMemory mem;
    private static FuzzTransport dev;
    private static VirtioBlk blk;

    private static synchronized FuzzTransport dev() throws Exception {
        if (dev == null) {
            Thread.setDefaultUncaughtExceptionHandler((t, e) -> FAILURES.add(t.getName() + " died: " + e + " at "
                    + java.util.Arrays.toString(java.util.Arrays.copyOf(e.getStackTrace(), Math.min(6, e.getStackTrace().length)))));
            mem = GuestMemory.create(List.of(new GuestMemory.Range(0, REGION0), new GuestMemory.Range(HOLE_END, REGION1)));
            Path img = Files.createTempFile("jvmm-pci-fuzz", ".img");
            img.toFile().deleteOnExit();
            try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
                f.setLength(64 << 10);
            }
            blk = new VirtioBlk("fuzz-pci-blk", BlockBackend.open(img.toString(), false, CacheMode.WRITEBACK), 2,
                    "fuzz-pci", AioMode.THREADS);
            dev = new FuzzTransport(blk, mem, new TestIrqs(), FAILURES);
            assertEquals(VECTORS, dev.msix().vectors());
        }
        return dev;
    }

    @FuzzTest(maxDuration = "5m")
    void bar0AndConfig(FuzzedDataProvider in) throws Exception {
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        FuzzTransport d = dev();
        FAILURES.clear();
        // a fresh function: BAR0 placed, memory decoding on, device reset
        d.setBarAddress(0, PciTestDriver.BAR);
        d.configWrite(0x04, 2, 0x6);
        d.bar0().write(CommonCfg.DEVICE_STATUS, 1, 0);
        d.configWrite(d.config().findCapabilities(MsixCapability.CAP_ID)[0] + 2, 2, 0);
        d.msix().reset();
        // guest RAM: zero, then the input's bytes from 0 (rings in the first pages)
        mem.write(0, new byte[0x4000], 0, 0x4000);
        byte[] ram = in.consumeBytes(in.consumeInt(0, 0x4000));
        mem.write(0, ram, 0, ram.length);

        if (in.consumeBoolean()) {
            // often a driver's initialisation first (fuzzed features, queue count and size, ring addresses in the
            // input's RAM or anywhere), so that the operations below meet an active device and its threads
            long features = in.consumeLong() | 1L << VIRTIO_F_VERSION_1; // (the operations may still refuse it)
            int queues = in.consumeInt(0, 2), size = in.consumeBoolean() ? 1 << in.consumeInt(0, 9) : in.consumeInt(0, 0xffff);
            DriverSteps.init(d, features, queues, size, q -> new long[] {ring(in), ring(in), ring(in)});
        }
        int ops = in.consumeInt(1, 96);
        for (int i = 0; i < ops && in.remainingBytes() > 0; i++) {
            int kind = in.consumeInt(0, 11);
            if (kind >= 10) {
                int size = in.pickValue(new int[] {1, 2, 4});
                int off = in.consumeBoolean() ? in.consumeInt(0, 0xff) : in.consumeInt(0, 0xfff);
                if (kind == 10) {
                    d.configWrite(off, size, in.consumeInt());
                } else {
                    long v = d.configRead(off, size) & 0xffff_ffffL;
                    assertEquals(0, v & ~mask(size), "config read of " + size + " bytes at 0x" + Integer.toHexString(off)
                            + " returned 0x" + Long.toHexString(v));
                }
                continue;
            }
            long off = offset(in);
            int size = in.consumeBoolean() ? in.pickValue(new int[] {1, 2, 4, 8}) : in.consumeInt(1, 8);
            if (kind < 7) {
                long v = value(in, off) & mask(size);
                d.bar0().write(off, size, v);
            } else {
                long v = d.bar0().read(off, size);
                assertEquals(0, v & ~mask(size), "BAR0 read of " + size + " bytes at 0x" + Long.toHexString(off)
                        + " returned 0x" + Long.toHexString(v));
            }
        }
        MsixTable msix = d.msix();
        long pba = msix.readPba(0, 8);
        assertEquals(0, pba & ~((1L << VECTORS) - 1), "PBA bits beyond the vectors: 0x" + Long.toHexString(pba));
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
        worksAfterReset(d);
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
    }

    /** A ring address: in the input's RAM (mostly aligned), against the hole, or anywhere. */
    private static long ring(FuzzedDataProvider in) {
        return switch (in.consumeInt(0, 3)) {
            case 0, 1 -> in.consumeLong(0, 0x3fff) & ~(in.consumeBoolean() ? 0xfL : 0);
            case 2 -> REGION0 - in.consumeInt(0, 0x100);
            default -> in.consumeLong();
        };
    }

    /** A BAR0 offset: mostly in or near a register block, else anywhere. */
    private static long offset(FuzzedDataProvider in) {
        return switch (in.consumeInt(0, 9)) {
            case 0, 1, 2, 3 -> in.consumeInt(0, CommonCfg.SIZEOF + 8);
            case 4 -> VirtioPciDevice.ISR_OFFSET + in.consumeInt(0, 4);
            case 5 -> VirtioPciDevice.DEVICE_OFFSET + in.consumeInt(0, 0x48);
            case 6 -> VirtioPciDevice.NOTIFY_OFFSET + in.consumeInt(0, 12);
            case 7 -> VirtioPciDevice.MSIX_TABLE_OFFSET + in.consumeInt(0, 16 * VECTORS + 8);
            case 8 -> VirtioPciDevice.MSIX_PBA_OFFSET + in.consumeInt(0, 16);
            default -> in.consumeLong(0, VirtioPciDevice.BAR_SIZE - 1);
        };
    }

    /** A value for a write at {@code off}: small (statuses, selects, sizes, vectors, RAM addresses) or any. */
    private static long value(FuzzedDataProvider in, long off) {
        return switch (in.consumeInt(0, 3)) {
            case 0 -> in.consumeInt(0, 0x1ff);
            case 1 -> off == CommonCfg.DEVICE_STATUS ? in.pickValue(new int[] {VIRTIO_CONFIG_S_ACKNOWLEDGE,
                    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_ACKNOWLEDGE
                    | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_ACKNOWLEDGE
                    | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK, 0})
                    : in.consumeLong(0, 0x4000);
            case 2 -> in.consumeLong(HOLE_END - 0x100, HOLE_END + REGION1 + 0x100);
            default -> in.consumeLong();
        };
    }

    private static long mask(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    /** A reset, then a driver places BAR0, initialises the device and gets a GET_ID answered on queue 1. */
    private static void worksAfterReset(FuzzTransport d) {
        d.bar0().write(CommonCfg.DEVICE_STATUS, 1, 0);
        assertEquals(0, d.bar0().read(CommonCfg.DEVICE_STATUS, 1), "the reset cleared the status");
        int cap = d.config().findCapabilities(MsixCapability.CAP_ID)[0];
        d.configWrite(cap + 2, 2, 0); // MSI-X function mask and enable off, as after a function reset
        PciTestDriver drv = new PciTestDriver(d, mem, 0x20000);
        assertEquals(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK, drv.init(1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_BLK_F_MQ, 2, 8), "the device initialises");
        TestDriver t = drv.rings.get(1);
        long hdr = 0x3f000, id = 0x3f100, status = 0x3f200;
        mem.putInt(hdr, 8); // VIRTIO_BLK_T_GET_ID
        mem.putLong(hdr + 8, 0);
        mem.putByte(status, 0xee);
        t.desc(0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
        t.desc(1, id, 20, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
        t.desc(2, status, 1, VIRTQ_DESC_F_WRITE, 0);
        t.publish(0);
        drv.kick(1);
        long deadline = System.nanoTime() + 10_000_000_000L;
        for (int spin = 0; t.usedIdx() != 1; spin++) {
            assertEquals(0, d.status() & VIRTIO_CONFIG_S_NEEDS_RESET, "a good GET_ID set NEEDS_RESET");
            assertTrue(System.nanoTime() < deadline, "the GET_ID after reset was never answered");
            if (spin < 100) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
        assertEquals(0, mem.getByte(status), "GET_ID answered OK");
        d.bar0().write(CommonCfg.DEVICE_STATUS, 1, 0);
    }
}

package dev.jvmm.virtio.blk;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;
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
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * Fuzz target: virtio-blk as a whole device, behind its real virtio-pci transport, over real image files. Two disks
 * live for the whole run (built once): one with the thread-pool engine and the page cache ({@code aio=threads},
 * {@code cache=writeback}), one with io_uring and O_DIRECT ({@code aio=io_uring}, {@code cache=none}, so misaligned
 * guest buffers take the bounce path); each is a 64 KiB image. Guest RAM is two regions with a hole between them.
 * Per input: the disk, the negotiated features (INDIRECT_DESC, EVENT_IDX, FLUSH, DISCARD, WRITE_ZEROES may be
 * dropped), then up to six requests, each built from the input: its type (IN, OUT, FLUSH, GET_ID, DISCARD,
 * WRITE_ZEROES or any 32-bit value), its sector (in range, at the end, or any 64-bit value), a header that is whole,
 * split over two descriptors or short, up to four data segments (anywhere: in RAM, against the hole, in it, anywhere
 * in the address space; any length; readable or writable), DISCARD/WRITE_ZEROES segments with fuzzed ranges and
 * flags, a status descriptor of any length and direction, optionally the whole chain in an indirect table, optionally
 * a descriptor's flags and next overwritten and a bogus head published. The target kicks through BAR0 and waits
 * (bounded) until every chain is used or the device went NEEDS_RESET; then it resets the device and proves that a
 * well-formed write, read-back and GET_ID work.
 * <p>Invariants: only guest protocol errors put the device in NEEDS_RESET (an "internal error" from a device thread
 * is a failure, as is any exception escaping a device or I/O thread: a default uncaught-exception handler records
 * them); every host access stays inside the VMM's memory and every descriptor inside guest RAM ({@link MemoryGuard});
 * the device never hangs (every chain is used within seconds unless NEEDS_RESET); each used element names a head
 * that was published and its length never exceeds the chain's writable bytes; a completed request's status byte is
 * OK, IOERR or UNSUPP; the device's threads are alive while it is active; the image file never changes size; after
 * a reset, a good request works and reads back what it wrote.
 */
class VirtioBlkFuzzTest {
    private static final long REGION0 = 0x80000, HOLE_END = 0x100000, REGION1 = 0x40000;
    private static final long RINGS = 0x10000, INDIRECT = 0x20000, HDR = 0x30000, STATUS = 0x38000,
            DWZ = 0x3c000, DATA = 0x40000;
    private static final int QSIZE = 64;
    private static final long IMAGE = 64 << 10;
    private static final long FEATURES = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX
            | 1L << VIRTIO_RING_F_INDIRECT_DESC | 1L << VIRTIO_BLK_F_FLUSH | 1L << VIRTIO_BLK_F_DISCARD
            | 1L << VIRTIO_BLK_F_WRITE_ZEROES | 1L << VIRTIO_BLK_F_SEG_MAX | 1L << VIRTIO_BLK_F_SIZE_MAX
            | 1L << VIRTIO_BLK_F_BLK_SIZE;
    private static final long WAIT_NANOS = 10_000_000_000L;

    static {
        if (System.getenv("JAZZER_FUZZ") != null) {
            // while fuzzing, the device's warnings about the fuzzer's bad requests would cost more than the requests
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "error");
        }
    }

    /** What a device or I/O thread threw, or an internal error a device thread reported. */
    static final ConcurrentLinkedQueue<String> FAILURES = new ConcurrentLinkedQueue<>();


    record Disk(Path image, VirtioBlk blk, FuzzTransport dev, PciTestDriver drv) {
    }

    private static GuestMemory mem;
    private static Disk[] disks;

    private static synchronized Disk[] disks() throws Exception {
        if (disks == null) {
            Thread.setDefaultUncaughtExceptionHandler((t, e) -> FAILURES.add(t.getName() + " died: " + e + " at "
                    + java.util.Arrays.toString(java.util.Arrays.copyOf(e.getStackTrace(), Math.min(6, e.getStackTrace().length)))));
            mem = GuestMemory.create(List.of(new GuestMemory.Range(0, REGION0), new GuestMemory.Range(HOLE_END, REGION1)));
            Path dir = Files.createTempDirectory("jvmm-blk-fuzz");
            dir.toFile().deleteOnExit();
            disks = new Disk[] {disk(dir, "threads.img", AioMode.THREADS, CacheMode.WRITEBACK),
                    disk(dir, "uring.img", AioMode.IO_URING, CacheMode.NONE)};
        }
        return disks;
    }

    private static Disk disk(Path dir, String file, AioMode aio, CacheMode cache) throws Exception {
        Path img = dir.resolve(file);
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(IMAGE);
        }
        img.toFile().deleteOnExit();
        VirtioBlk blk = new VirtioBlk("fuzz-blk-" + aio, BlockBackend.open(img.toString(), false, cache), 1,
                "fuzz-serial", aio);
        FuzzTransport dev = new FuzzTransport(blk, mem, new TestIrqs(), FAILURES);
        return new Disk(img, blk, dev, new PciTestDriver(dev, mem, RINGS));
    }

    @FuzzTest(maxDuration = "5m")
    void requests(FuzzedDataProvider in) throws Exception {
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        Disk d = disks()[in.consumeBoolean() ? 1 : 0];
        FAILURES.clear();
        long features = FEATURES & ~(in.consumeLong() & (1L << VIRTIO_RING_F_EVENT_IDX
                | 1L << VIRTIO_RING_F_INDIRECT_DESC | 1L << VIRTIO_BLK_F_FLUSH | 1L << VIRTIO_BLK_F_DISCARD
                | 1L << VIRTIO_BLK_F_WRITE_ZEROES));
        int s = d.drv.init(features, 1, QSIZE);
        assertEquals(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK, s);
        TestDriver t = d.drv.rings.get(0);
        boolean indirectOk = (features & 1L << VIRTIO_RING_F_INDIRECT_DESC) != 0;

        int n = in.consumeInt(1, 6);
        int next = 0;
        Map<Integer, Long> writable = new HashMap<>(); // head → the chain's writable bytes (-1: not known)
        List<Integer> heads = new ArrayList<>();
        List<Long> statusAt = new ArrayList<>();
        for (int r = 0; r < n && next < QSIZE - 10; r++) {
            List<long[]> segs = new ArrayList<>(); // {addr, len, flags}
            int type = switch (in.consumeInt(0, 7)) {
                case 0 -> VIRTIO_BLK_T_IN;
                case 1 -> VIRTIO_BLK_T_OUT;
                case 2 -> VIRTIO_BLK_T_FLUSH;
                case 3 -> VIRTIO_BLK_T_GET_ID;
                case 4 -> VIRTIO_BLK_T_DISCARD;
                case 5 -> VIRTIO_BLK_T_WRITE_ZEROES;
                default -> in.consumeInt();
            };
            long sector = switch (in.consumeInt(0, 3)) {
                case 0, 1 -> in.consumeLong(0, IMAGE / 512 + 2);
                case 2 -> IMAGE / 512 - in.consumeLong(0, 8);
                default -> in.consumeLong();
            };
            long hdr = HDR + 0x100L * r;
            mem.putInt(hdr, type);
            mem.putInt(hdr + 4, in.consumeInt());
            mem.putLong(hdr + 8, sector);
            switch (in.consumeInt(0, 5)) {
                case 0 -> { // split over two descriptors
                    segs.add(new long[] {hdr, 8, 0});
                    segs.add(new long[] {hdr + 8, 8, 0});
                }
                case 1 -> segs.add(new long[] {hdr, in.consumeInt(0, 40), 0}); // short or long
                default -> segs.add(new long[] {hdr, 16, 0});
            }
            if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
                int k = in.consumeInt(0, 3);
                long at = DWZ + 0x100L * r;
                for (int i = 0; i < k; i++) {
                    mem.putLong(at + 16L * i, in.consumeBoolean() ? in.consumeLong(0, IMAGE / 512 + 2) : in.consumeLong());
                    mem.putInt(at + 16L * i + 8, in.consumeBoolean() ? in.consumeInt(0, 130) : in.consumeInt());
                    mem.putInt(at + 16L * i + 12, in.consumeInt(0, 3));
                }
                segs.add(new long[] {at, in.consumeBoolean() ? 16L * k : in.consumeInt(0, 64), 0});
            }
            int data = in.consumeInt(0, 4);
            for (int i = 0; i < data; i++) {
                long len = switch (in.consumeInt(0, 3)) {
                    case 0, 1 -> 512L * in.consumeInt(0, 16);
                    case 2 -> in.consumeInt(0, 0x2000);
                    default -> in.consumeInt() & 0xffff_ffffL;
                };
                long a = address(in);
                // the device may read the rings as data, but writing over them would blind this target's driver
                boolean w = in.consumeBoolean() && (a < RINGS || a >= RINGS + 0x1000 + len);
                segs.add(new long[] {a, len, w ? VIRTQ_DESC_F_WRITE : 0});
            }
            long st = STATUS + 0x10L * r;
            long[] status = in.consumeInt(0, 7) == 0
                    ? new long[] {st, in.consumeInt(0, 4), in.consumeBoolean() ? VIRTQ_DESC_F_WRITE : 0}
                    : new long[] {st, 1, VIRTQ_DESC_F_WRITE};
            segs.add(status);
            if (status[1] > 0 && status[2] != 0) { // the status byte is the last byte of the last descriptor
                mem.putByte(st + status[1] - 1, 0xee);
                statusAt.add(st + status[1] - 1);
            }
            long w = 0;
            for (long[] g : segs) {
                w += (g[2] & VIRTQ_DESC_F_WRITE) != 0 ? g[1] : 0;
            }
            int head = next;
            if (indirectOk && in.consumeInt(0, 3) == 0) {
                long table = INDIRECT + 0x800L * r;
                for (int i = 0; i < segs.size(); i++) {
                    long[] g = segs.get(i);
                    boolean last = i == segs.size() - 1;
                    t.desc(table, i, g[0], (int) g[1], (int) g[2] | (last ? 0 : VIRTQ_DESC_F_NEXT), last ? 0 : i + 1);
                }
                t.desc(head, table, 16 * segs.size() + (in.consumeInt(0, 7) == 0 ? in.consumeInt(-16, 16) : 0),
                        VIRTQ_DESC_F_INDIRECT, 0);
                next++;
            } else {
                for (int i = 0; i < segs.size(); i++) {
                    long[] g = segs.get(i);
                    boolean last = i == segs.size() - 1;
                    t.desc(next, g[0], (int) g[1], (int) g[2] | (last ? 0 : VIRTQ_DESC_F_NEXT), last ? 0 : next + 1);
                    next++;
                }
            }
            writable.put(head, w);
            heads.add(head);
        }
        boolean corrupt = in.consumeInt(0, 7) == 0;
        if (corrupt) { // a descriptor's flags and next from the input
            long dsc = t.desc + 16L * in.consumeInt(0, Math.max(0, next - 1));
            mem.putShort(dsc + 12, in.consumeShort());
            mem.putShort(dsc + 14, in.consumeShort());
            writable.replaceAll((h, w) -> -1L);
        }
        if (in.consumeInt(0, 7) == 0) { // a bogus head
            int h = in.consumeInt(0, QSIZE + 8);
            heads.add(h);
            writable.putIfAbsent(h, -1L);
        }
        for (int h : heads) {
            t.publish(h);
        }
        d.drv.kick(0);

        boolean broken = awaitUsedOrBroken(d, t, heads.size(), !corrupt);
        if (!broken) {
            assertTrue(d.blk.threadsAlive(), "the device threads run");
            for (int i = 0; i < heads.size(); i++) {
                int id = t.usedId(i);
                assertTrue(writable.containsKey(id), "used id " + id + " was never published");
                long w = writable.get(id);
                long len = t.usedLen(i) & 0xffff_ffffL;
                assertTrue(w < 0 || len <= w, "used length " + len + " > the chain's " + w + " writable bytes");
            }
            if (writable.values().stream().allMatch(w -> w >= 0)) {
                for (long st : statusAt) {
                    int b = mem.getByte(st) & 0xff;
                    assertTrue(b == 0xee || b == VIRTIO_BLK_S_OK || b == VIRTIO_BLK_S_IOERR || b == VIRTIO_BLK_S_UNSUPP,
                            "status byte " + b);
                }
            }
        }
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
        assertEquals(IMAGE, Files.size(d.image), "the image keeps its size");
        worksAfterReset(d);
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
    }

    /** A data segment's guest address: in the data area, against the hole, past RAM, in the rings, or anywhere. */
    private static long address(FuzzedDataProvider in) {
        return switch (in.consumeInt(0, 5)) {
            case 0, 1 -> DATA + in.consumeLong(0, REGION0 - DATA);
            case 2 -> REGION0 - in.consumeLong(0, 0x1000);
            case 3 -> HOLE_END + in.consumeLong(0, REGION1 + 0x10);
            case 4 -> RINGS + in.consumeLong(0, 0x1000);
            default -> in.consumeLong();
        };
    }

    /** Waits, bounded, until {@code count} chains are used or the device reports NEEDS_RESET; returns the latter. */
    private static boolean awaitUsedOrBroken(Disk d, TestDriver t, int count, boolean ringsIntact) {
        long deadline = System.nanoTime() + WAIT_NANOS;
        for (int spin = 0; ; spin++) {
            if ((d.dev.status() & VIRTIO_CONFIG_S_NEEDS_RESET) != 0) {
                return true;
            }
            assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
            if ((short) (t.usedIdx() - count) >= 0) {
                // (a corrupted descriptor may turn a segment over the rings writable: then the used index is anything)
                assertTrue(!ringsIntact || t.usedIdx() == count, "more chains used than published");
                return false;
            }
            assertTrue(System.nanoTime() < deadline, () -> "the device hung: " + t.usedIdx() + " of " + count
                    + " chains used; " + FAILURES);
            if (spin < 100) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
    }

    /** After a reset, a fresh driver writes a sector, reads it back and reads the id. */
    private static void worksAfterReset(Disk d) {
        d.drv.write(CommonCfg.DEVICE_STATUS, 1, 0);
        assertEquals(0, d.drv.status(), "the reset cleared the status");
        assertEquals(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK, d.drv.init(FEATURES, 1, 16));
        TestDriver t = d.drv.rings.get(0);
        byte[] data = new byte[512];
        Arrays.fill(data, (byte) 0xa5);
        mem.write(DATA, data, 0, 512);
        mem.write(DATA + 0x1000, new byte[512], 0, 512);
        assertEquals(VIRTIO_BLK_S_OK, good(d, t, 0, VIRTIO_BLK_T_OUT, DATA, 512, false, 1));
        assertEquals(VIRTIO_BLK_S_OK, good(d, t, 3, VIRTIO_BLK_T_IN, DATA + 0x1000, 512, true, 2));
        byte[] back = new byte[512];
        mem.read(DATA + 0x1000, back, 0, 512);
        assertArrayEquals(data, back, "the reset device reads back what it wrote");
        assertEquals(VIRTIO_BLK_S_OK, good(d, t, 6, VIRTIO_BLK_T_GET_ID, DATA + 0x2000, 20, true, 3));
        d.drv.write(CommonCfg.DEVICE_STATUS, 1, 0);
    }

    private static int good(Disk d, TestDriver t, int head, int type, long buf, int len, boolean write, int used) {
        mem.putInt(HDR, type);
        mem.putInt(HDR + 4, 0);
        mem.putLong(HDR + 8, 1);
        mem.putByte(STATUS, 0xee);
        t.desc(head, HDR, 16, VIRTQ_DESC_F_NEXT, head + 1);
        t.desc(head + 1, buf, len, VIRTQ_DESC_F_NEXT | (write ? VIRTQ_DESC_F_WRITE : 0), head + 2);
        t.desc(head + 2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
        t.publish(head);
        d.drv.kick(0);
        assertFalse(awaitUsedOrBroken(d, t, used, true), "a good request after reset set NEEDS_RESET");
        return mem.getByte(STATUS) & 0xff;
    }
}

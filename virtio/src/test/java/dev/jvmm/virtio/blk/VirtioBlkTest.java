package dev.jvmm.virtio.blk;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.DirtyBitmap;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-blk end to end in-process: a simulated driver talks to the real virtio-pci transport through BAR0,
 * the device threads do real preadv/pwritev/fallocate on a real image file, and interrupts arrive on real
 * eventfds. Includes the hostile-driver cases at device level.
 */
class VirtioBlkTest {
    static final long ALL = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX | 1L << VIRTIO_RING_F_INDIRECT_DESC
            | 1L << VIRTIO_BLK_F_FLUSH | 1L << VIRTIO_BLK_F_DISCARD | 1L << VIRTIO_BLK_F_WRITE_ZEROES
            | 1L << VIRTIO_BLK_F_SEG_MAX | 1L << VIRTIO_BLK_F_SIZE_MAX | 1L << VIRTIO_BLK_F_BLK_SIZE
            | 1L << VIRTIO_BLK_F_RO | 1L << VIRTIO_BLK_F_MQ;
    static final long HDR = 0x80000, STATUS = 0x90000, DATA = 0x100000;

    @TempDir Path tmp;
    GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, 16 << 20)));
    TestIrqs irqs = new TestIrqs();
    VirtioPciDevice dev;
    PciTestDriver drv;
    int used;

    @AfterEach
    void close() {
        if (dev != null) {
            dev.close();
        }
        irqs.close();
        mem.close();
    }

    Path image(long size) throws Exception {
        Path p = tmp.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    VirtioBlk start(Path img, boolean ro, CacheMode cache, int queues) {
        VirtioBlk blk = new VirtioBlk("virtio-blk-0", BlockBackend.open(img.toString(), ro, cache), queues, "jvmm-disk-42");
        dev = new VirtioPciDevice(blk, mem, irqs, null, -1);
        drv = new PciTestDriver(dev, mem, 0x10000);
        int s = drv.init(ALL, queues, 128);
        assertEquals(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK, s);
        used = 0;
        return blk;
    }

    /** Header in desc 0, data descs, status last; returns the status byte after completion. */
    int request(int q, int type, long sector, long[] bufs, int[] lens, boolean dataWritable) {
        TestDriver t = drv.rings.get(q);
        mem.putInt(HDR, type);
        mem.putInt(HDR + 4, 0);
        mem.putLong(HDR + 8, sector);
        mem.putByte(STATUS, 0xee);
        int i = 0;
        t.desc(i, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
        for (int k = 0; k < bufs.length; k++) {
            i++;
            t.desc(i, bufs[k], lens[k], VIRTQ_DESC_F_NEXT | (dataWritable ? VIRTQ_DESC_F_WRITE : 0), i + 1);
        }
        i++;
        t.desc(i, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
        t.publish(0);
        drv.kick(q);
        used++;
        assertTrue(drv.awaitUsed(q, used), "request completed");
        return mem.getByte(STATUS) & 0xff;
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void writesAndReadsBackThroughTheImageFileWithInterrupts() throws Exception {
        Path img = image(4 << 20);
        start(img, false, CacheMode.WRITEBACK, 1);
        assertEquals(VirtioPciDevice.DEVICE_ID_BASE + 2, dev.configRead(2, 2));
        assertEquals((4 << 20) / 512, drv.read(VirtioPciDevice.DEVICE_OFFSET, 4) | drv.read(VirtioPciDevice.DEVICE_OFFSET + 4, 4) << 32);
        byte[] data = random(12288, 1);
        mem.write(DATA, data, 0, 8192);
        mem.write(DATA + 0x10000, data, 8192, 4096);
        // two data segments, scattered in guest RAM
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_OUT, 16, new long[] {DATA, DATA + 0x10000},
                new int[] {8192, 4096}, false));
        assertTrue(irqs.vectors.get(0).await(), "queue 0's MSI-X vector fired");
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_FLUSH, 0, new long[0], new int[0], false));
        byte[] onDisk = Arrays.copyOfRange(Files.readAllBytes(img), 16 * 512, 16 * 512 + 12288);
        assertArrayEquals(data, onDisk, "the guest's write is in the image file");

        mem.write(DATA + 0x200000, new byte[12288], 0, 12288);
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_IN, 16, new long[] {DATA + 0x200000}, new int[] {12288}, true));
        byte[] back = new byte[12288];
        mem.read(DATA + 0x200000, back, 0, back.length);
        assertArrayEquals(data, back);
        assertEquals(12288 + 1, drv.rings.get(0).usedLen(used - 1), "used length counts data and status");
    }

    @Test
    void getIdUnknownTypeOutOfRangeAndReadOnly() throws Exception {
        Path img = image(1 << 20);
        start(img, true, CacheMode.WRITEBACK, 1);
        assertNotEquals(0, drv.deviceFeatures() & 1L << VIRTIO_BLK_F_RO);
        assertEquals(0, drv.deviceFeatures() & 1L << VIRTIO_BLK_F_DISCARD, "no discard on a read-only disk");
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_GET_ID, 0, new long[] {DATA}, new int[] {20}, true));
        byte[] id = new byte[12];
        mem.read(DATA, id, 0, 12);
        assertEquals("jvmm-disk-42", new String(id));
        assertEquals(VIRTIO_BLK_S_UNSUPP, request(0, 99, 0, new long[] {DATA}, new int[] {512}, true));
        assertEquals(VIRTIO_BLK_S_IOERR, request(0, VIRTIO_BLK_T_IN, 2047, new long[] {DATA}, new int[] {1024}, true),
                "read past the end");
        assertEquals(VIRTIO_BLK_S_IOERR, request(0, VIRTIO_BLK_T_IN, -1L, new long[] {DATA}, new int[] {512}, true),
                "huge sector");
        mem.write(DATA, random(512, 2), 0, 512);
        assertEquals(VIRTIO_BLK_S_IOERR, request(0, VIRTIO_BLK_T_OUT, 0, new long[] {DATA}, new int[] {512}, false),
                "write to a read-only disk");
        assertArrayEquals(new byte[512], Arrays.copyOf(Files.readAllBytes(img), 512), "the image is untouched");
    }

    @Test
    void discardPunchesHolesAndWriteZeroesZeroes() throws Exception {
        Path img = image(8 << 20);
        Files.write(img, random(8 << 20, 3));
        start(img, false, CacheMode.WRITEBACK, 1);
        long before = allocatedBlocks(img);
        mem.putLong(DATA, 0);
        mem.putInt(DATA + 8, (4 << 20) / 512);
        mem.putInt(DATA + 12, 0);
        assertEquals(VIRTIO_BLK_S_OK, requestReadable(VIRTIO_BLK_T_DISCARD, DATA, 16));
        long after = allocatedBlocks(img);
        assertTrue(after < before - 4000, "discard deallocated 4 MiB: " + before + " → " + after + " blocks");
        mem.putLong(DATA, (6 << 20) / 512);
        mem.putInt(DATA + 8, 8);
        mem.putInt(DATA + 12, 0);
        assertEquals(VIRTIO_BLK_S_OK, requestReadable(VIRTIO_BLK_T_WRITE_ZEROES, DATA, 16));
        byte[] all = Files.readAllBytes(img);
        assertArrayEquals(new byte[4096], Arrays.copyOfRange(all, 6 << 20, (6 << 20) + 4096));
        assertNotEquals(0, all[(6 << 20) + 4096] | all[(6 << 20) + 4097] | all[(6 << 20) + 4098], "beyond is kept");
        mem.putLong(DATA, (8 << 20) / 512 - 1);
        mem.putInt(DATA + 8, 2);
        assertEquals(VIRTIO_BLK_S_IOERR, requestReadable(VIRTIO_BLK_T_DISCARD, DATA, 16), "discard past the end");
        // no sectors: nothing to do, as QEMU answers (fallocate would refuse a length of 0)
        mem.putLong(DATA, 16);
        mem.putInt(DATA + 8, 0);
        assertEquals(VIRTIO_BLK_S_OK, requestReadable(VIRTIO_BLK_T_WRITE_ZEROES, DATA, 16), "write-zeroes of 0 sectors");
        assertEquals(VIRTIO_BLK_S_OK, requestReadable(VIRTIO_BLK_T_DISCARD, DATA, 16), "discard of 0 sectors");
        mem.putInt(DATA + 12, 8);
        assertEquals(VIRTIO_BLK_S_UNSUPP, requestReadable(VIRTIO_BLK_T_WRITE_ZEROES, DATA, 16), "unknown flags first");
    }

    int requestReadable(int type, long seg, int len) {
        TestDriver t = drv.rings.get(0);
        mem.putInt(HDR, type);
        mem.putLong(HDR + 8, 0);
        t.desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
        t.desc(1, seg, len, VIRTQ_DESC_F_NEXT, 2);
        t.desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
        t.publish(0);
        drv.kick(0);
        used++;
        assertTrue(drv.awaitUsed(0, used));
        return mem.getByte(STATUS) & 0xff;
    }

    static long allocatedBlocks(Path p) throws Exception {
        Process pr = new ProcessBuilder("stat", "-c", "%b", p.toString()).start();
        String out = new String(pr.getInputStream().readAllBytes()).trim();
        assertEquals(0, pr.waitFor());
        return Long.parseLong(out);
    }

    @Test
    void cacheNoneUsesODirectAndBouncesMisalignedBuffers() throws Exception {
        Path img = image(1 << 20);
        VirtioBlk blk = start(img, false, CacheMode.NONE, 1);
        byte[] data = random(4096, 4);
        mem.write(DATA, data, 0, 4096);
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_OUT, 8, new long[] {DATA}, new int[] {4096}, false));
        assertEquals(0, blk.bounced(), "aligned buffers go straight to O_DIRECT pwritev");
        mem.write(DATA + 0x1003, data, 0, 4096);
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_OUT, 16, new long[] {DATA + 0x1003}, new int[] {4096}, false));
        assertEquals(1, blk.bounced());
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_IN, 16, new long[] {DATA + 0x3005}, new int[] {4096}, true));
        byte[] back = new byte[4096];
        mem.read(DATA + 0x3005, back, 0, 4096);
        assertArrayEquals(data, back);
        byte[] all = Files.readAllBytes(img);
        assertArrayEquals(data, Arrays.copyOfRange(all, 8 * 512, 8 * 512 + 4096));
        assertArrayEquals(data, Arrays.copyOfRange(all, 16 * 512, 16 * 512 + 4096));
    }

    @Test
    void requestsPublishedBeforeOneKickAreServedAsOneBatchAndCounted() throws Exception {
        Path img = image(1 << 20);
        VirtioBlk blk = start(img, false, CacheMode.WRITEBACK, 1);
        TestDriver t = drv.rings.get(0);
        byte[] data = random(3 * 4096, 6);
        for (int k = 0; k < 3; k++) {
            long hdr = HDR + 0x100L * k, status = STATUS + 0x100L * k, buf = DATA + 0x10000L * k;
            mem.putInt(hdr, VIRTIO_BLK_T_OUT);
            mem.putInt(hdr + 4, 0);
            mem.putLong(hdr + 8, 8L * k);
            mem.putByte(status, 0xee);
            mem.write(buf, data, 4096 * k, 4096);
            t.desc(3 * k, hdr, 16, VIRTQ_DESC_F_NEXT, 3 * k + 1);
            t.desc(3 * k + 1, buf, 4096, VIRTQ_DESC_F_NEXT, 3 * k + 2);
            t.desc(3 * k + 2, status, 1, VIRTQ_DESC_F_WRITE, 0);
            t.publish(3 * k);
        }
        drv.kick(0);
        used += 3;
        assertTrue(drv.awaitUsed(0, used), "all three completed");
        for (int k = 0; k < 3; k++) {
            assertEquals(VIRTIO_BLK_S_OK, mem.getByte(STATUS + 0x100L * k) & 0xff);
        }
        assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(img), 0, data.length));
        assertEquals(3, blk.requests());
        assertEquals(3, blk.maxBatch(), "the device saw the three requests pending at once");
        assertTrue(irqs.vectors.get(0).await(), "the batch was signalled");
    }

    @Test
    void multiqueueServesEachQueueOnItsOwnThread() throws Exception {
        Path img = image(1 << 20);
        start(img, false, CacheMode.WRITEBACK, 2);
        assertEquals(2, drv.read(VirtioPciDevice.DEVICE_OFFSET + VirtioBlkLayout.Config.NUM_QUEUES, 2));
        byte[] data = random(512, 5);
        mem.write(DATA, data, 0, 512);
        assertEquals(VIRTIO_BLK_S_OK, request(1, VIRTIO_BLK_T_OUT, 1, new long[] {DATA}, new int[] {512}, false));
        assertTrue(irqs.vectors.get(1).await(), "queue 1 interrupts on vector 1");
        assertTrue(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("virtio-blk-0-q1")));
        assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(img), 512, 1024));
    }

    // ---- hostile driver at device level ----

    void assertNeedsResetThenRecovers(VirtioBlk blk, Runnable publishBadChain) throws Exception {
        TestIrqs.Vector config = irqs.vectors.get(irqs.vectors.size() - 1);
        config.drain();
        publishBadChain.run();
        drv.kick(0);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while ((drv.status() & VIRTIO_CONFIG_S_NEEDS_RESET) == 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertNotEquals(0, drv.status() & VIRTIO_CONFIG_S_NEEDS_RESET, "DEVICE_STATUS has NEEDS_RESET");
        assertTrue(config.await(), "a configuration-change interrupt was raised");
        assertTrue(blk.threadsAlive(), "the device thread keeps running");
        assertNotEquals(0, drv.read(CommonCfg.CONFIG_GENERATION, 1));
        // the driver resets and starts over: the device works again
        assertEquals(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK, drv.init(ALL, 1, 128));
        used = 0;
        mem.write(DATA, random(512, 6), 0, 512);
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_OUT, 0, new long[] {DATA}, new int[] {512}, false));
    }

    @Test
    void descriptorLoopSetsNeedsResetAndResetRecovers() throws Exception {
        VirtioBlk blk = start(image(1 << 20), false, CacheMode.WRITEBACK, 1);
        assertNeedsResetThenRecovers(blk, () -> {
            TestDriver t = drv.rings.get(0);
            t.desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
            t.desc(1, DATA, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
            t.publish(0);
        });
    }

    @Test
    void bufferOutsideGuestRamSetsNeedsResetWithoutTouchingIt() throws Exception {
        VirtioBlk blk = start(image(1 << 20), false, CacheMode.WRITEBACK, 1);
        assertNeedsResetThenRecovers(blk, () -> {
            TestDriver t = drv.rings.get(0);
            mem.putInt(HDR, VIRTIO_BLK_T_IN);
            t.desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
            t.desc(1, (16 << 20) - 256, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2); // straddles the end of RAM
            t.desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
            t.publish(0);
        });
    }

    @Test
    void zeroLengthTooManyDescriptorsAndWrongDirectionSetNeedsReset() throws Exception {
        VirtioBlk blk = start(image(1 << 20), false, CacheMode.WRITEBACK, 1);
        assertNeedsResetThenRecovers(blk, () -> {
            TestDriver t = drv.rings.get(0);
            t.desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
            t.desc(1, DATA, 0, VIRTQ_DESC_F_NEXT, 2);
            t.desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
            t.publish(0);
        });
        assertNeedsResetThenRecovers(blk, () -> {
            TestDriver t = drv.rings.get(0);
            // a readable descriptor after the writable status: wrong direction
            t.desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
            t.desc(1, STATUS, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
            t.desc(2, DATA, 512, 0, 0);
            t.publish(0);
        });
        assertNeedsResetThenRecovers(blk, () -> {
            TestDriver t = drv.rings.get(0);
            // no writable status byte at all
            t.desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
            t.desc(1, DATA, 512, 0, 0);
            t.publish(0);
        });
        assertNeedsResetThenRecovers(blk, () -> {
            TestDriver t = drv.rings.get(0);
            // an indirect table of 300 descriptors: more than SEG_MAX + 2
            long table = 0x200000;
            for (int i = 0; i < 300; i++) {
                t.desc(table, i, DATA, 512, i < 299 ? VIRTQ_DESC_F_NEXT : VIRTQ_DESC_F_WRITE, i + 1);
            }
            t.desc(0, table, 300 * 16, VIRTQ_DESC_F_INDIRECT, 0);
            t.publish(0);
        });
    }

    @Test
    void featuresWithoutVersion1AreRefused() throws Exception {
        start(image(1 << 20), false, CacheMode.WRITEBACK, 1);
        int s = drv.init(ALL & ~(1L << VIRTIO_F_VERSION_1), 1, 128);
        assertEquals(0, s & VIRTIO_CONFIG_S_FEATURES_OK, "FEATURES_OK is not accepted without VERSION_1");
    }

    @Test
    void badDiskOptionsFailClearly() throws Exception {
        Path odd = tmp.resolve("odd.img");
        Files.write(odd, new byte[1000]);
        var e = assertThrows(dev.jvmm.virtio.VirtioException.class, () -> BlockBackend.open(odd.toString(), false, CacheMode.WRITEBACK));
        assertTrue(e.getMessage().contains("not a whole number of 512-byte sectors"), e.getMessage());
        var e2 = assertThrows(dev.jvmm.virtio.VirtioException.class, () -> BlockBackend.open(tmp.resolve("none").toString(), false, CacheMode.WRITEBACK));
        assertTrue(e2.getCause().getMessage().contains("ENOENT"), e2.getCause().getMessage());
    }

    static String sha(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    /** Pages the device thread wrote since the last harvest, taken with the device quiesced (as the last round is). */
    List<Long> deviceWrites() {
        dev.quiesce(); // joins the threads: every mark is in (a mark follows its write, even the used ring's)
        try {
            List<Long> out = new java.util.ArrayList<>();
            DirtyBitmap.forEachDirtyPage(mem.harvestDirty(null), out::add);
            return out;
        } finally {
            dev.unquiesce();
        }
    }

    @Test
    void withDirtyLoggingOnAReadMarksTheDataPagesTheStatusPageAndTheUsedRing() throws Exception {
        Path img = image(1 << 20);
        Files.write(img, random(1 << 20, 7));
        start(img, false, CacheMode.WRITEBACK, 1);
        long ring = drv.rings.get(0).used & ~0xfffL; // desc, avail and used ring share page 0x10000
        assertEquals(0x10000, ring);
        // logging off: served as always, and nothing is recorded
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_IN, 0, new long[] {DATA}, new int[] {4096}, true));
        dev.quiesce(); // the thread may still be on its last pop (avail_event) after the used idx moved
        mem.startDirtyLog((slot, flags, gpa, size, hva) -> { });
        assertEquals(0, DirtyBitmap.count(mem.harvestDirty(null)), "what was written before the log is not in it");
        dev.unquiesce();

        // a read into 0x101800..0x1037ff (three pages) and 0x180000 (one): data, status byte and used ring
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_IN, 8, new long[] {DATA + 0x1800, DATA + 0x80000},
                new int[] {0x2000, 512}, true));
        assertEquals(List.of(ring, STATUS, DATA + 0x1000, DATA + 0x2000, DATA + 0x3000, DATA + 0x80000), deviceWrites(),
                "not the header's page (0x80000): the device only reads it");
        byte[] back = new byte[0x2000];
        mem.read(DATA + 0x1800, back, 0, back.length);
        assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(img), 8 * 512, 8 * 512 + 0x2000), back);

        // a write reads the guest's data: only the status byte and the used ring were written
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_OUT, 8, new long[] {DATA + 0x5000}, new int[] {4096}, false));
        assertEquals(List.of(ring, STATUS), deviceWrites());
        // GET_ID writes the id string
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_GET_ID, 0, new long[] {DATA + 0x7000}, new int[] {20}, true));
        assertEquals(List.of(ring, STATUS, DATA + 0x7000), deviceWrites());
        // a failed read (past the end) may have written its buffer: marked all the same
        assertEquals(VIRTIO_BLK_S_IOERR, request(0, VIRTIO_BLK_T_IN, 2047, new long[] {DATA + 0x9000}, new int[] {1024},
                true));
        assertEquals(List.of(ring, STATUS, DATA + 0x9000), deviceWrites());

        mem.stopDirtyLog((slot, flags, gpa, size, hva) -> { });
        assertEquals(VIRTIO_BLK_S_OK, request(0, VIRTIO_BLK_T_IN, 0, new long[] {DATA}, new int[] {4096}, true));
        assertFalse(mem.dirtyLogging());
    }
}

package dev.jvmm.virtio.blk;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.DirtyBitmap;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.Errno;
import dev.jvmm.sys.testing.OpenFds;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The in-flight request accounting of a virtio-blk queue against a simulated driver (through the real virtio-pci
 * transport, real eventfd interrupts, a real image file), with an engine ({@link HeldEngine}) that holds each request
 * until the test lets it go: completions out of order, a flush that waits for the writes before it and not for those
 * after it, short transfers and EAGAIN going round again, a reset and a quiesce with requests in flight, a driver that
 * makes more chains available than there are slots, dirty marks of a read completed in two parts, no descriptor left
 * open.
 */
@Timeout(60)
class VirtioBlkInFlightTest {
    static final long HDR = 0x80000, STATUS = 0x90000, DATA = 0x100000;

    @TempDir Path tmp;
    GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, 16 << 20)));
    TestIrqs irqs = new TestIrqs();
    HeldEngine engine = new HeldEngine();
    VirtioPciDevice dev;
    VirtioBlk blk;
    PciTestDriver drv;
    Path img;
    byte[] disk;

    @AfterEach
    void close() {
        engine.passThrough = true;
        engine.release(s -> true);
        if (dev != null) {
            dev.close();
        }
        irqs.close();
        mem.close();
    }

    void start(CacheMode cache, int queueSize) throws Exception {
        img = tmp.resolve("disk.img");
        disk = new byte[1 << 20];
        new Random(42).nextBytes(disk);
        Files.write(img, disk);
        blk = new VirtioBlk("virtio-blk-0", BlockBackend.open(img.toString(), false, cache), 1, "held", engine);
        dev = new VirtioPciDevice(blk, mem, irqs, null, -1);
        drv = new PciTestDriver(dev, mem, 0x10000);
        assertEquals(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK, drv.init(VirtioBlkTest.ALL, 1, queueSize));
    }

    TestDriver ring() {
        return drv.rings.get(0);
    }

    /** Request k: header at HDR+0x100k, 4 KiB (or none) at {@code buf}, status at STATUS+0x100k, descriptors 3k... */
    int publish(int k, int type, long sector, long buf, int len) {
        TestDriver t = ring();
        long hdr = HDR + 0x100L * k, status = STATUS + 0x100L * k;
        mem.putInt(hdr, type);
        mem.putInt(hdr + 4, 0);
        mem.putLong(hdr + 8, sector);
        mem.putByte(status, 0xee);
        int head = 3 * k;
        if (len > 0) {
            t.desc(head, hdr, 16, VIRTQ_DESC_F_NEXT, head + 1);
            t.desc(head + 1, buf, len, VIRTQ_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0), head + 2);
            t.desc(head + 2, status, 1, VIRTQ_DESC_F_WRITE, 0);
        } else {
            t.desc(head, hdr, 16, VIRTQ_DESC_F_NEXT, head + 2);
            t.desc(head + 2, status, 1, VIRTQ_DESC_F_WRITE, 0);
        }
        t.publish(head);
        return head;
    }

    int status(int k) {
        return mem.getByte(STATUS + 0x100L * k) & 0xff;
    }

    /** The heads of used elements [from, to). */
    List<Integer> usedHeads(int from, int to) {
        List<Integer> out = new ArrayList<>();
        for (int i = from; i < to; i++) {
            out.add(ring().usedId(i));
        }
        return out;
    }

    void awaitUsed(int n) {
        assertTrue(drv.awaitUsed(0, n), "used index reaches " + n + " (is " + ring().usedIdx() + ")");
    }

    byte[] guest(long addr, int len) {
        byte[] b = new byte[len];
        mem.read(addr, b, 0, len);
        return b;
    }

    @Test
    void readsCompleteOutOfOrderEachWithItsOwnStatusAndData() throws Exception {
        start(CacheMode.WRITEBACK, 128);
        int h0 = publish(0, VIRTIO_BLK_T_IN, 0, DATA, 4096);
        int h1 = publish(1, VIRTIO_BLK_T_IN, 8, DATA + 0x1000, 4096);
        int h2 = publish(2, VIRTIO_BLK_T_IN, 16, DATA + 0x2000, 4096);
        drv.kick(0);
        engine.awaitSubmitted(3);
        assertArrayEquals(new int[] {3}, blk.inFlight(), "three reads with the engine at once");
        assertEquals(0, ring().usedIdx());

        engine.release(s -> s.offset() == 16 * 512);
        awaitUsed(1);
        assertEquals(List.of(h2), usedHeads(0, 1), "the third read completed first");
        assertEquals(4096 + 1, ring().usedLen(0));
        assertEquals(VIRTIO_BLK_S_OK, status(2));
        assertEquals(0xee, status(0), "the others have no status yet");
        assertEquals(0xee, status(1));
        assertArrayEquals(Arrays.copyOfRange(disk, 16 * 512, 16 * 512 + 4096), guest(DATA + 0x2000, 4096));
        assertTrue(irqs.vectors.get(0).await(), "its interrupt came on its own");

        engine.release(s -> s.offset() == 0);
        awaitUsed(2);
        engine.release(s -> true);
        awaitUsed(3);
        assertEquals(List.of(h2, h0, h1), usedHeads(0, 3));
        for (int k = 0; k < 3; k++) {
            assertEquals(VIRTIO_BLK_S_OK, status(k));
            assertArrayEquals(Arrays.copyOfRange(disk, 8 * 512 * k, 8 * 512 * k + 4096), guest(DATA + 0x1000L * k, 4096));
        }
        assertEquals(3, blk.maxInFlight());
        assertArrayEquals(new int[] {0}, blk.inFlight());
    }

    @Test
    void aFlushWaitsForTheWritesBeforeItAndNotForThoseAfterIt() throws Exception {
        start(CacheMode.WRITEBACK, 128);
        byte[] data = new byte[3 * 4096];
        new Random(7).nextBytes(data);
        mem.write(DATA, data, 0, data.length);
        int w0 = publish(0, VIRTIO_BLK_T_OUT, 0, DATA, 4096);
        int w1 = publish(1, VIRTIO_BLK_T_OUT, 8, DATA + 0x1000, 4096);
        int f = publish(2, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        int w3 = publish(3, VIRTIO_BLK_T_OUT, 16, DATA + 0x2000, 4096);
        drv.kick(0);
        List<HeldEngine.Submitted> s = engine.awaitSubmitted(3);
        Thread.sleep(100);
        assertEquals(3, engine.submitted().size(), "the flush is not issued: " + engine.submitted());
        assertTrue(s.stream().allMatch(HeldEngine.Submitted::isWrite), "the three writes went out: " + s);

        engine.release(x -> x.offset() == 8 * 512);
        awaitUsed(1);
        Thread.sleep(100);
        assertFalse(engine.submitted().stream().anyMatch(HeldEngine.Submitted::isFlush),
                "the first write is still in flight: the flush waits");
        engine.release(x -> x.offset() == 0);
        List<HeldEngine.Submitted> all = engine.awaitSubmitted(4);
        assertTrue(all.get(3).isFlush(), "both writes before it completed: the flush is issued " + all);
        // the flush completes while the write made available after it is still in flight
        engine.release(HeldEngine.Submitted::isFlush);
        awaitUsed(3);
        assertEquals(List.of(w1, w0, f), usedHeads(0, 3));
        assertEquals(VIRTIO_BLK_S_OK, status(2));
        assertEquals(0xee, status(3));
        engine.release(x -> true);
        awaitUsed(4);
        assertEquals(w3, ring().usedId(3));
        assertArrayEquals(data, Arrays.copyOf(Files.readAllBytes(img), data.length));

        // with no write in flight a flush goes out at once
        publish(4, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        drv.kick(0);
        assertTrue(engine.awaitSubmitted(5).get(4).isFlush());
        engine.release(x -> true);
        awaitUsed(5);
        assertEquals(2, blk.flushes());
    }

    @Test
    void flushesQueueBehindEachOtherAndAnErrorIsTheirStatus() throws Exception {
        start(CacheMode.WRITETHROUGH, 128);
        mem.write(DATA, new byte[4096], 0, 4096);
        publish(0, VIRTIO_BLK_T_OUT, 0, DATA, 4096);
        publish(1, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        publish(2, VIRTIO_BLK_T_OUT, 8, DATA, 4096);
        publish(3, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        drv.kick(0);
        engine.awaitSubmitted(2);
        engine.release(x -> x.offset() == 8 * 512); // the second write: neither flush may go
        awaitUsed(1);
        Thread.sleep(100);
        assertEquals(2, engine.submitted().size(), "both flushes wait for the first write: " + engine.submitted());
        engine.release(x -> x.offset() == 0);
        List<HeldEngine.Submitted> s = engine.awaitSubmitted(4);
        assertTrue(s.get(2).isFlush() && s.get(3).isFlush(), s.toString());
        engine.release(HeldEngine.Submitted::isFlush, (long) -Errno.EIO);
        awaitUsed(4);
        assertEquals(VIRTIO_BLK_S_IOERR, status(1), "a failed fdatasync is the flush's status");
        assertEquals(VIRTIO_BLK_S_IOERR, status(3));
        assertEquals(2, blk.ioErrors());
    }

    @Test
    void shortTransfersAndEagainGoRoundAgainForTheRestAndMarkWhatWasRead() throws Exception {
        start(CacheMode.WRITEBACK, 128);
        mem.startDirtyLog((slot, flags, gpa, size, hva) -> { });
        mem.harvestDirty(null);
        // a 12 KiB read into three pages: the engine reports 5000 bytes, then EAGAIN, then the rest
        publish(0, VIRTIO_BLK_T_IN, 8, DATA + 0x10000, 12288);
        drv.kick(0);
        engine.awaitSubmitted(1);
        engine.release(x -> true, 5000L);
        List<HeldEngine.Submitted> s = engine.awaitSubmitted(2);
        assertEquals(new HeldEngine.Submitted(BlkRequest.READ, 8 * 512 + 5000, 12288 - 5000, s.get(0).slot()), s.get(1),
                "the rest goes round again from where the short read ended");
        List<Long> pages = new ArrayList<>();
        DirtyBitmap.forEachDirtyPage(mem.harvestDirty(null), pages::add);
        assertEquals(List.of(0x10000L, DATA + 0x10000, DATA + 0x11000), pages,
                "the 5000 bytes read so far are marked (and the used ring: avail_event, written when the queue drained)");
        engine.release(x -> true, (long) -Errno.EAGAIN);
        s = engine.awaitSubmitted(3);
        assertEquals(s.get(1), s.get(2), "EAGAIN: the same transfer again");
        engine.release(x -> true);
        awaitUsed(1);
        assertEquals(VIRTIO_BLK_S_OK, status(0));
        assertEquals(12288 + 1, ring().usedLen(0));
        assertArrayEquals(Arrays.copyOfRange(disk, 8 * 512, 8 * 512 + 12288), guest(DATA + 0x10000, 12288));
        dev.quiesce(); // joins the thread: every mark is in
        pages.clear();
        DirtyBitmap.forEachDirtyPage(mem.harvestDirty(null), pages::add);
        dev.unquiesce();
        assertEquals(List.of(0x10000L, STATUS, DATA + 0x11000, DATA + 0x12000), pages,
                "the used ring, the status byte and the rest of the data (0x11000 again: 5000 ends inside it)");
        mem.stopDirtyLog((slot, flags, gpa, size, hva) -> { });
    }

    @Test
    void aWriteThatMakesNoProgressOrFailsIsAnIoError() throws Exception {
        start(CacheMode.WRITEBACK, 128);
        publish(0, VIRTIO_BLK_T_OUT, 0, DATA, 4096);
        publish(1, VIRTIO_BLK_T_IN, 0, DATA + 0x1000, 4096);
        drv.kick(0);
        engine.awaitSubmitted(2);
        engine.release(HeldEngine.Submitted::isWrite, 0L);
        engine.release(x -> true, (long) -Errno.EIO);
        awaitUsed(2);
        assertEquals(VIRTIO_BLK_S_IOERR, status(0));
        assertEquals(VIRTIO_BLK_S_IOERR, status(1));
        assertEquals(1, ring().usedLen(0), "a failed request reports only its status byte");
        assertEquals(1, ring().usedLen(1));
    }

    @Test
    void aResetWithRequestsInFlightWaitsForThemAndDropsThem() throws Exception {
        start(CacheMode.WRITEBACK, 128);
        mem.write(DATA, new byte[8192], 0, 8192);
        publish(0, VIRTIO_BLK_T_IN, 0, DATA, 4096);
        publish(1, VIRTIO_BLK_T_OUT, 8, DATA + 0x1000, 4096);
        publish(2, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        drv.kick(0);
        engine.awaitSubmitted(2);
        CompletableFuture<Void> reset = CompletableFuture.runAsync(() -> drv.write(CommonCfg.DEVICE_STATUS, 1, 0));
        assertThrows(TimeoutException.class, () -> reset.get(300, TimeUnit.MILLISECONDS),
                "the reset waits while the kernel may still write guest RAM");
        assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("virtio-blk-0")),
                "the queue thread is already stopped");
        engine.release(x -> true);
        reset.get(10, TimeUnit.SECONDS);
        assertEquals(0, drv.status());
        assertEquals(2, engine.submitted().size(), "the flush that waited was dropped, not issued");
        assertEquals(0, ring().usedIdx(), "nothing was put in the used ring after the reset");
        assertEquals(0xee, status(0));
        assertEquals(0xee, status(1));
        assertArrayEquals(Arrays.copyOf(disk, 4096), guest(DATA, 4096), "the read itself did happen");

        // the driver starts over: the queue is served again with fresh slots
        engine.passThrough = true;
        assertEquals(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK, drv.init(VirtioBlkTest.ALL, 1, 128));
        publish(0, VIRTIO_BLK_T_IN, 16, DATA, 4096);
        drv.kick(0);
        awaitUsed(1);
        assertEquals(VIRTIO_BLK_S_OK, status(0));
    }

    @Test
    void aQuiesceWithRequestsInFlightCompletesThemIntoTheUsedRing() throws Exception {
        start(CacheMode.WRITEBACK, 128);
        byte[] data = new byte[4096];
        new Random(9).nextBytes(data);
        mem.write(DATA, data, 0, 4096);
        int w = publish(0, VIRTIO_BLK_T_OUT, 24, DATA, 4096);
        int f = publish(1, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        drv.kick(0);
        engine.awaitSubmitted(1);
        irqs.vectors.get(0).drain();
        CompletableFuture<Void> q = CompletableFuture.runAsync(() -> dev.quiesce());
        assertThrows(TimeoutException.class, () -> q.get(300, TimeUnit.MILLISECONDS));
        engine.release(x -> true);
        engine.awaitSubmitted(2); // the flush is issued by the quiescing thread once the write is done
        engine.release(x -> true);
        q.get(10, TimeUnit.SECONDS);
        assertEquals(2, ring().usedIdx(), "both are in the used ring when quiesce returns");
        assertEquals(List.of(w, f), usedHeads(0, 2));
        assertEquals(VIRTIO_BLK_S_OK, status(0));
        assertEquals(VIRTIO_BLK_S_OK, status(1));
        assertTrue(irqs.vectors.get(0).await(), "and the driver was told");
        assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(img), 24 * 512, 24 * 512 + 4096));
        dev.unquiesce();
        engine.passThrough = true;
        publish(2, VIRTIO_BLK_T_IN, 24, DATA + 0x1000, 4096);
        drv.kick(0);
        awaitUsed(3);
        assertArrayEquals(data, guest(DATA + 0x1000, 4096));
    }

    @Test
    void aDriverThatMakesMoreChainsAvailableThanThereAreSlotsWaitsForFreeOnes() throws Exception {
        start(CacheMode.WRITEBACK, 8);
        // 8 reads fill the 8 slots; a broken driver then makes the same 8 heads available again
        for (int k = 0; k < 2; k++) {
            publish(k, VIRTIO_BLK_T_IN, 8L * k, DATA + 0x1000L * k, 4096);
        }
        TestDriver t = ring();
        for (int i = 0; i < 6; i++) {
            t.publish(3 * (i % 2));
        }
        drv.kick(0);
        engine.awaitSubmitted(8);
        for (int i = 0; i < 8; i++) {
            t.publish(3 * (i % 2));
        }
        drv.kick(0);
        Thread.sleep(100);
        assertEquals(8, engine.submitted().size(), "no slot is free: the rest wait");
        engine.release(x -> x.slot() == engine.submitted().get(0).slot());
        engine.awaitSubmitted(9);
        engine.passThrough = true;
        engine.release(x -> true);
        awaitUsed(16);
        assertEquals(16, engine.submitted().size());
        assertTrue(blk.threadsAlive());
    }

    @Test
    void aQueueTheKernelRefusesARingFallsBackToThreads() throws Exception {
        // an io_uring engine whose rings the kernel refuses (as with kernel.io_uring_disabled=2)
        BlkEngine refusing = new BlkEngine() {
            @Override
            public AioMode mode() {
                return AioMode.IO_URING;
            }

            @Override
            public Queue open(String name, BlkRequest[] slots) {
                throw new dev.jvmm.sys.ErrnoException("io_uring_setup", Errno.EPERM, name + " entries=" + slots.length);
            }

            @Override
            public void close() {
            }
        };
        img = tmp.resolve("disk.img");
        disk = new byte[1 << 20];
        new Random(3).nextBytes(disk);
        Files.write(img, disk);
        blk = new VirtioBlk("virtio-blk-0", BlockBackend.open(img.toString(), false, CacheMode.WRITEBACK), 2, null,
                refusing);
        dev = new VirtioPciDevice(blk, mem, irqs, null, -1);
        drv = new PciTestDriver(dev, mem, 0x10000);
        drv.init(VirtioBlkTest.ALL, 2, 128);
        assertTrue(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("virtio-blk-0-io0")),
                "the pool's threads serve both queues");
        for (int q = 0; q < 2; q++) {
            TestDriver t = drv.rings.get(q);
            mem.putInt(HDR, VIRTIO_BLK_T_IN);
            mem.putLong(HDR + 8, 8L * q);
            t.desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
            t.desc(1, DATA, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
            t.desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
            t.publish(0);
            drv.kick(q);
            assertTrue(drv.awaitUsed(q, 1));
            assertEquals(VIRTIO_BLK_S_OK, mem.getByte(STATUS) & 0xff);
            assertArrayEquals(Arrays.copyOfRange(disk, 8 * 512 * q, 8 * 512 * q + 4096), guest(DATA, 4096));
        }
    }

    @Test
    void noDescriptorIsLeftOpenWithEitherRealEngine() throws Exception {
        for (AioMode mode : new AioMode[] {AioMode.THREADS, AioMode.IO_URING}) {
            Path image = tmp.resolve("leak-" + mode + ".img");
            Files.write(image, new byte[1 << 20]);
            Map<Integer, String> before = OpenFds.now();
            try (VirtioPciDevice d = new VirtioPciDevice(new VirtioBlk("virtio-blk-0",
                    BlockBackend.open(image.toString(), false, CacheMode.NONE), 2, null, mode), mem, irqs, null, -1)) {
                drv = new PciTestDriver(d, mem, 0x10000);
                drv.init(VirtioBlkTest.ALL, 2, 128);
                for (int q = 0; q < 2; q++) {
                    TestDriver t = drv.rings.get(q);
                    mem.putInt(HDR, VIRTIO_BLK_T_OUT);
                    mem.putLong(HDR + 8, 0);
                    t.desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
                    t.desc(1, DATA, 4096, VIRTQ_DESC_F_NEXT, 2);
                    t.desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
                    t.publish(0);
                    drv.kick(q);
                    assertTrue(drv.awaitUsed(q, 1));
                }
                drv.init(VirtioBlkTest.ALL, 2, 128); // a reset and a second activation
            }
            assertEquals(List.of(), OpenFds.leaked(before), "aio=" + mode + ": the image, eventfds, epolls and rings");
        }
    }
}

package dev.jvmm.virtio.balloon;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.balloon.VirtioBalloonLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.balloon.VirtioBalloonLayout.Config;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * virtio-balloon driven through the real virtio-pci transport by a simulated driver in heap guest RAM: inflated pages
 * are released to the host (they read back as zeros, and leave the process's RSS), deflated ones are counted, frame
 * numbers outside guest RAM are refused without harm, stats make the round trip the spec describes, free page
 * reporting releases ranges (its queue's index follows the negotiated features), a new target raises the
 * configuration interrupt, and the device's state survives a save and restore.
 */
class VirtioBalloonTest {
    static final long RAM = 64L << 20;
    static final long RINGS = 0x10000, PFNS = 0x100000, STATS = 0x110000, PAGES = 0x800000, BIG = 0x2000000;
    static final long BASE = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX;
    static final int RING = 128;

    GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, RAM)));
    TestIrqs irqs = new TestIrqs();
    VirtioBalloon balloon;
    VirtioPciDevice dev;
    PciTestDriver drv;
    final int[] used = new int[4];

    @AfterEach
    void close() {
        if (dev != null) {
            dev.close();
        }
        irqs.close();
        mem.close();
    }

    /** A balloon offering stats (every 3600 s: the test asks for them) and reporting; the driver takes {@code features}. */
    void start(long features, int queues) {
        balloon = new VirtioBalloon("virtio-balloon-0", RAM, 0, true, true, 3600);
        dev = new VirtioPciDevice(balloon, mem, irqs, null, -1);
        drv = new PciTestDriver(dev, mem, RINGS);
        assertEquals(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK, drv.init(features, queues, RING));
    }

    /** Puts {@code pfns} in one buffer on queue {@code q} (inflate 0, deflate 1), kicks and waits for it back. */
    void frames(int q, long... pfns) {
        for (int i = 0; i < pfns.length; i++) {
            mem.putInt(PFNS + 4L * i, (int) pfns[i]);
        }
        TestDriver t = drv.rings.get(q);
        t.desc(0, PFNS, 4 * pfns.length, 0, 0);
        t.publish(0);
        drv.kick(q);
        assertTrue(drv.awaitUsed(q, ++used[q]), "buffer on queue " + q + " returned");
    }

    static long pfn(long gpa) {
        return gpa >>> 12;
    }

    void pattern(long gpa, long len) {
        mem.fill(gpa, len, (byte) 0x5a);
    }

    boolean zeros(long gpa, long len) {
        byte[] b = new byte[(int) len];
        mem.read(gpa, b, 0, b.length);
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    static void await(BooleanSupplier c, String what) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!c.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting: " + what);
            Thread.onSpinWait();
        }
    }

    @Test
    void offersWhatItWasConfiguredWithAsDeviceType5() {
        start(BASE, 2);
        assertEquals(VirtioPciDevice.DEVICE_ID_BASE + 5, dev.configRead(2, 2));
        long f = drv.deviceFeatures();
        assertEquals(1L << VIRTIO_BALLOON_F_STATS_VQ | 1L << VIRTIO_BALLOON_F_DEFLATE_ON_OOM | 1L << VIRTIO_BALLOON_F_REPORTING,
                f & 0xffffffL); // device-specific bits 0..23
        assertEquals(4, balloon.queueCount());
        VirtioBalloon plain = new VirtioBalloon("b", RAM, 0, false, false, 0);
        assertEquals(0, plain.deviceFeatures());
        assertEquals(2, plain.queueCount());
    }

    @Test
    void inflateReleasesThePagesAndDeflateCountsThem() throws Exception {
        start(BASE, 2);
        pattern(PAGES, 16 * 4096);
        long rssBefore = rssOfRamKb();
        long[] pfns = new long[16];
        for (int i = 0; i < 16; i++) {
            pfns[i] = pfn(PAGES) + i;
        }
        frames(0, pfns);
        assertTrue(zeros(PAGES, 16 * 4096), "inflated pages read back as zeros: MADV_DONTNEED gave them to the host");
        VirtioBalloon.Status s = balloon.status();
        assertEquals(16, s.inflatedPages());
        assertEquals(16 * 4096, s.releasedBytes());
        assertEquals(0, s.refusedPages());
        // a page after the range is untouched
        pattern(PAGES + 16 * 4096, 4096);
        frames(0, pfn(PAGES) + 100); // a lone page elsewhere, not the neighbour
        assertFalse(zeros(PAGES + 16 * 4096, 4096), "pages not inflated keep their content");
        // deflate: only counted; the pages fault back in when the guest touches them
        frames(1, pfns[0], pfns[1], pfns[2]);
        assertEquals(3, balloon.status().deflatedPages());
        assertEquals(17, balloon.status().inflatedPages());
        assertTrue(rssBefore < 0 || rssOfRamKb() <= rssBefore, "RSS of guest RAM did not grow");
    }

    @Test
    void inflatingALargeRangeLowersTheRssOfGuestRam() throws Exception {
        start(BASE, 2);
        pattern(BIG, 8L << 20); // 8 MiB faulted in
        long before = rssOfRamKb();
        org.junit.jupiter.api.Assumptions.assumeTrue(before >= 0, "no /proc/self/smaps");
        for (int chunk = 0; chunk < 8; chunk++) { // 256 frames a buffer, as Linux sends them
            long[] pfns = new long[256];
            for (int i = 0; i < 256; i++) {
                pfns[i] = pfn(BIG) + chunk * 256L + i;
            }
            frames(0, pfns);
        }
        long after = rssOfRamKb();
        assertTrue(before - after >= 7 * 1024, "RSS of guest RAM dropped by ~8 MiB: " + before + " kB -> " + after + " kB");
        assertEquals(8L << 20, balloon.status().releasedBytes());
    }

    @Test
    void framesOutsideGuestRamAreRefusedAndTheRestServed() {
        start(BASE, 2);
        pattern(PAGES, 4096);
        frames(0, 0xffffffffL, pfn(RAM), pfn(PAGES), pfn(RAM) + 1);
        VirtioBalloon.Status s = balloon.status();
        assertEquals(3, s.refusedPages());
        assertEquals(1, s.inflatedPages());
        assertTrue(zeros(PAGES, 4096));
        frames(1, 0x7fffffffL);
        assertEquals(4, balloon.status().refusedPages());
        assertEquals(0, balloon.status().deflatedPages());
        assertEquals(0, drv.status() & VIRTIO_CONFIG_S_NEEDS_RESET, "refused frames do not break the device");
    }

    @Test
    void aBufferThatIsNotWholeFrameNumbersNeedsReset() {
        start(BASE, 2);
        TestDriver t = drv.rings.get(0);
        t.desc(0, PFNS, 6, 0, 0);
        t.publish(0);
        drv.kick(0);
        await(() -> (drv.status() & VIRTIO_CONFIG_S_NEEDS_RESET) != 0, "NEEDS_RESET");
        assertEquals(0, balloon.status().inflatedPages());
    }

    @Test
    void statsMakeTheRoundTripAndAreKeptWithTheirNames() {
        start(BASE | 1L << VIRTIO_BALLOON_F_STATS_VQ, 3);
        TestDriver t = drv.rings.get(2);
        writeStats(new int[] {4, 5, 6, 12}, new long[] {100L << 20, 512L << 20, 300L << 20, 7});
        t.desc(0, STATS, 40, 0, 0);
        t.publish(0);
        drv.kick(2);
        await(() -> balloon.lastStats() != null, "stats");
        VirtioBalloon.Stats s = balloon.lastStats();
        assertEquals(List.of("free-memory", "total-memory", "available-memory", "async-scans"), List.copyOf(s.values().keySet()));
        assertEquals(512L << 20, s.values().get("total-memory"));
        assertTrue(Math.abs(System.currentTimeMillis() - s.atMillis()) < 60_000);
        assertEquals(0, t.usedIdx(), "the device keeps the stats buffer");
        // the timer (here: asked now) returns it; the driver refills it and gives it back
        balloon.requestStats();
        assertTrue(drv.awaitUsed(2, 1), "the stats buffer came back to ask for fresh stats");
        writeStats(new int[] {4, 99}, new long[] {50L << 20, 1});
        t.desc(0, STATS, 20, 0, 0);
        t.publish(0);
        drv.kick(2);
        await(() -> balloon.status().statsUpdates() == 2, "second stats");
        assertEquals(50L << 20, balloon.lastStats().values().get("free-memory"));
        assertEquals(1L, balloon.lastStats().values().get("tag-99"));
        balloon.requestStats();
        assertTrue(drv.awaitUsed(2, 2));
        balloon.requestStats(); // nothing held: nothing happens
        assertEquals(2, t.usedIdx());
    }

    void writeStats(int[] tags, long[] values) {
        for (int i = 0; i < tags.length; i++) {
            mem.putShort(STATS + 10L * i, tags[i]);
            mem.putLong(STATS + 10L * i + 2, values[i]);
        }
    }

    @Test
    void reportingReleasesRangesOnQueue3WithStats() {
        start(BASE | 1L << VIRTIO_BALLOON_F_STATS_VQ | 1L << VIRTIO_BALLOON_F_REPORTING, 4);
        report(3);
    }

    @Test
    void reportingIsQueue2WhenTheDriverDidNotTakeStats() {
        start(BASE | 1L << VIRTIO_BALLOON_F_REPORTING, 3);
        report(2);
    }

    void report(int q) {
        pattern(BIG, 4L << 20);
        TestDriver t = drv.rings.get(q);
        // two 2 MiB ranges in one chain, device-writable as Linux's page reporting posts them
        t.desc(0, BIG, 2 << 20, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
        t.desc(1, BIG + (2 << 20), 2 << 20, VIRTQ_DESC_F_WRITE, 0);
        t.publish(0);
        drv.kick(q);
        assertTrue(drv.awaitUsed(q, 1), "report returned");
        assertTrue(zeros(BIG, 4L << 20), "reported ranges were released");
        assertEquals(4L << 20, balloon.status().reportedBytes());
        assertTrue(balloon.status().reportingNegotiated());
    }

    @Test
    void aReportedRangeOutsideGuestRamNeedsResetAndTouchesNothing() {
        start(BASE | 1L << VIRTIO_BALLOON_F_REPORTING, 3);
        TestDriver t = drv.rings.get(2);
        t.desc(0, RAM - 4096, 2 << 20, VIRTQ_DESC_F_WRITE, 0);
        t.publish(0);
        drv.kick(2);
        await(() -> (drv.status() & VIRTIO_CONFIG_S_NEEDS_RESET) != 0, "NEEDS_RESET");
        assertEquals(0, balloon.status().reportedBytes());
    }

    @Test
    void aNewTargetIsInNumPagesAndRaisesTheConfigInterrupt() {
        start(BASE, 2);
        TestIrqs.Vector config = irqs.vectors.get(irqs.vectors.size() - 1);
        config.drain();
        balloon.setTarget(16L << 20);
        assertTrue(config.await(), "configuration change interrupt");
        assertEquals((16L << 20) / 4096, drv.read(VirtioPciDevice.DEVICE_OFFSET + Config.NUM_PAGES, 4));
        // the driver reports what it holds in actual; num_pages is read-only for it
        drv.write(VirtioPciDevice.DEVICE_OFFSET + Config.ACTUAL, 4, 4096);
        drv.write(VirtioPciDevice.DEVICE_OFFSET + Config.NUM_PAGES, 4, 1);
        assertEquals(16L << 20, balloon.targetBytes());
        assertEquals(16L << 20, balloon.actualBytes());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> balloon.setTarget(RAM));
        assertTrue(e.getMessage().contains("below the guest's RAM"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> balloon.setTarget(4097));
        assertThrows(IllegalArgumentException.class, () -> balloon.setTarget(-4096));
        assertEquals(16L << 20, balloon.targetBytes());
        assertThrows(IllegalArgumentException.class, () -> new VirtioBalloon("b", RAM, RAM, false, false, 0));
    }

    @Test
    void theHeldStatsBufferTargetAndCountersSurviveASaveAndRestore() throws Exception {
        start(BASE | 1L << VIRTIO_BALLOON_F_STATS_VQ | 1L << VIRTIO_BALLOON_F_REPORTING, 4);
        balloon.setTarget(8L << 20);
        frames(0, pfn(PAGES), pfn(PAGES) + 1);
        TestDriver t = drv.rings.get(2);
        writeStats(new int[] {5}, new long[] {RAM});
        t.desc(0, STATS, 10, 0, 0);
        t.publish(0);
        drv.kick(2);
        await(() -> balloon.lastStats() != null, "stats");
        dev.quiesce();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        dev.saveState(new DataOutputStream(out));
        byte[] state = out.toByteArray();

        VirtioBalloon b2 = new VirtioBalloon("virtio-balloon-0", RAM, 0, true, true, 3600);
        VirtioPciDevice dev2 = new VirtioPciDevice(b2, mem, irqs, null, -1);
        try {
            dev2.restoreState(new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(state)), "balloon"));
            dev2.unquiesce();
            assertEquals(8L << 20, b2.targetBytes());
            assertEquals(2, b2.status().inflatedPages());
            assertEquals(RAM, b2.lastStats().values().get("total-memory"));
            assertTrue(b2.status().statsNegotiated());
            PciTestDriver drv2 = new PciTestDriver(dev2, mem, RINGS);
            b2.requestStats(); // the restored device returns the buffer the first one held
            await(() -> t.usedIdx() == 1, "held stats buffer returned by the restored device");
            // and serves the inflate queue where the first one stopped
            mem.putInt(PFNS, (int) pfn(PAGES) + 5);
            drv.rings.get(0).desc(0, PFNS, 4, 0, 0);
            drv.rings.get(0).publish(0);
            drv2.kick(0);
            await(() -> drv.rings.get(0).usedIdx() == 2, "inflate on the restored device");
            assertEquals(3, b2.status().inflatedPages());
        } finally {
            dev2.close();
        }
        // a state whose target is not below this VM's RAM is refused
        VirtioBalloon small = new VirtioBalloon("virtio-balloon-0", 8L << 20, 0, true, true, 3600);
        VirtioPciDevice dev3 = new VirtioPciDevice(small, mem, irqs, null, -1);
        try {
            Exception e = assertThrows(Exception.class, () -> dev3.restoreState(
                    new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(state)), "balloon")));
            assertTrue(e.getMessage().contains("num_pages"), e.getMessage());
        } finally {
            dev3.close();
        }
    }

    @Test
    void whileReleasingIsInhibitedPagesAreOnlyCounted() {
        start(BASE, 2);
        pattern(PAGES, 2 * 4096);
        balloon.inhibitRelease("vfio-0 is passed through");
        frames(0, pfn(PAGES), pfn(PAGES) + 1);
        assertFalse(zeros(PAGES, 2 * 4096), "nothing released while inhibited");
        assertEquals(2, balloon.status().inflatedPages());
        assertEquals(2, balloon.status().inhibitedPages());
        assertEquals(0, balloon.status().releasedBytes());
        balloon.inhibitRelease(null);
        frames(0, pfn(PAGES));
        assertTrue(zeros(PAGES, 4096));
    }

    /** Rss of the guest RAM mapping in kB (from /proc/self/smaps), or -1. */
    long rssOfRamKb() throws Exception {
        Path smaps = Path.of("/proc/self/smaps");
        if (!Files.isReadable(smaps)) {
            return -1;
        }
        long start = mem.regions().get(0).hostAddress();
        boolean in = false;
        for (String line : Files.readAllLines(smaps)) {
            if (!line.isEmpty() && Character.isLetterOrDigit(line.charAt(0)) && line.indexOf('-') > 0
                    && line.indexOf(' ') > line.indexOf('-')) {
                String range = line.substring(0, line.indexOf(' '));
                String[] ends = range.split("-");
                try {
                    long lo = Long.parseUnsignedLong(ends[0], 16), hi = Long.parseUnsignedLong(ends[1], 16);
                    in = lo <= start && start < hi;
                } catch (NumberFormatException e) {
                    // a field line ("Rss:" has no '-' before a space) or something else
                }
                continue;
            }
            if (in && line.startsWith("Rss:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}

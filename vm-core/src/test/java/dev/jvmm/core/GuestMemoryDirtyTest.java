package dev.jvmm.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.Native;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Dirty page tracking for migration: the VMM's own writes, KVM's log through a fake source, slot flags. */
class GuestMemoryDirtyTest {
    static final int LOG = 1; // KVM_MEM_LOG_DIRTY_PAGES
    static final long P = 4096;

    /** Region 0: 0..0x10000 (16 pages); region 1: 0x100000..0x150000 (80 pages: a partial last bitmap word). */
    private static GuestMemory twoRegions() {
        return GuestMemory.create(List.of(new GuestMemory.Range(0, 0x10000), new GuestMemory.Range(0x100000, 0x50000)));
    }

    private static List<Long> dirtyGpas(List<DirtyBitmap> b) {
        List<Long> out = new ArrayList<>();
        DirtyBitmap.forEachDirtyPage(b, out::add);
        return out;
    }

    @Test
    void marksByHostAddressAcrossTwoRegionsAndHarvestClears() {
        try (GuestMemory m = twoRegions()) {
            m.startDirtyLog((slot, flags, gpa, size, hva) -> { });
            m.markDirtyHost(m.hostAddress(0x1000, 1) + 5, 1);               // one byte: page 1 of region 0
            m.markDirtyHost(m.hostAddress(0x3ffe, 4), 4);                   // straddles pages 3 and 4
            m.markDirtyHost(m.hostAddress(0x100000 + 63 * P, P), 2 * P);    // pages 63 and 64: two bitmap words
            m.markDirtyHost(m.hostAddress(0x100000 + 79 * P, 1) + 4095, 1); // the last byte of region 1
            List<DirtyBitmap> h = m.harvestDirty(null);
            assertEquals(2, h.size());
            assertEquals(0, h.get(0).region().guestPhysAddr());
            assertEquals(0x100000, h.get(1).region().guestPhysAddr());
            assertEquals(16, h.get(0).pages());
            assertEquals(80, h.get(1).pages());
            assertEquals(List.of(0x1000L, 0x3000L, 0x4000L, 0x100000 + 63 * P, 0x100000 + 64 * P, 0x100000 + 79 * P),
                    dirtyGpas(h));
            assertEquals(6, DirtyBitmap.count(h));
            assertTrue(h.get(0).isDirty(3));
            assertTrue(h.get(1).isDirtyGpa(0x100000 + 64 * P + 123));
            assertFalse(h.get(1).isDirtyGpa(0x3000), "another region's address");
            assertEquals(List.of(), dirtyGpas(m.harvestDirty(null)), "a harvest takes what it returns");
            m.markDirtyHost(m.hostAddress(0x2000, 1), 1);
            assertEquals(List.of(0x2000L), dirtyGpas(m.harvestDirty(null)), "marks after a harvest are in the next");
        }
    }

    /**
     * Ranges that run over region 0's ends mark only its pages; addresses outside it are ignored unless they are
     * another region's RAM: where mmap put region 1 (maybe right next to region 0) decides which of the "outside"
     * pages are region 1's, so those are expected from region 1's host range.
     */
    @Test
    void aRangeOverARegionsEndMarksOnlyGuestRamAndOutsideAddressesAreIgnored() {
        try (GuestMemory m = twoRegions()) {
            m.startDirtyLog((slot, flags, gpa, size, hva) -> { });
            GuestMemory.Region r0 = m.regions().get(0);
            long[][] marks = {
                {r0.hostAddress() - 2 * P, 3 * P},             // starts before region 0: only its page 0
                {r0.hostAddress() + r0.size() - 1, 2 * P},     // runs past region 0's end: only its page 15
                {r0.hostAddress() + r0.size() + P, P},         // entirely outside region 0
                {0, P},                                        // not guest RAM at all
                {-P, 2 * P},
                {r0.hostAddress() + 5 * P, 0},                 // empty
                {r0.hostAddress() + 6 * P, -1},                // negative length
                {r0.hostAddress() + 7 * P, Long.MAX_VALUE},    // nonsense length: to the end of the address space
            };
            for (long[] mk : marks) {
                m.markDirtyHost(mk[0], mk[1]);
            }
            java.util.TreeSet<Long> expected = new java.util.TreeSet<>(List.of(0L, 0x7000L, 0x8000L, 0x9000L, 0xa000L,
                    0xb000L, 0xc000L, 0xd000L, 0xe000L, 0xf000L));
            GuestMemory.Region r1 = m.regions().get(1);
            for (long[] mk : marks) {
                if (mk[1] <= 0) {
                    continue;
                }
                long end = mk[0] + mk[1] < mk[0] ? Long.MAX_VALUE : mk[0] + mk[1];
                long lo = Math.max(mk[0], r1.hostAddress());
                long hi = Math.min(end, r1.hostAddress() + r1.size());
                for (long h = lo - (lo - r1.hostAddress()) % P; h < hi; h += P) {
                    expected.add(r1.guestPhysAddr() + (h - r1.hostAddress()));
                }
            }
            assertEquals(new ArrayList<>(expected), dirtyGpas(m.harvestDirty(null)));
        }
    }

    @Test
    void nothingIsRecordedWhileLoggingIsOffAndHarvestIsRefused() {
        try (GuestMemory m = twoRegions()) {
            assertFalse(m.dirtyLogging());
            m.markDirtyHost(m.hostAddress(0x1000, 1), P);
            VmCoreException e = assertThrows(VmCoreException.class, () -> m.harvestDirty(null));
            assertEquals(VmCoreException.Reason.INVALID, e.reason());
            m.startDirtyLog((slot, flags, gpa, size, hva) -> { });
            assertTrue(m.dirtyLogging());
            assertEquals(0, DirtyBitmap.count(m.harvestDirty(null)), "a write before start is the first round's");
            m.markDirtyHost(m.hostAddress(0x1000, 1), P);
            m.stopDirtyLog((slot, flags, gpa, size, hva) -> { });
            assertFalse(m.dirtyLogging());
            m.markDirtyHost(m.hostAddress(0x2000, 1), P);
            assertThrows(VmCoreException.class, () -> m.harvestDirty(null));
            m.startDirtyLog((slot, flags, gpa, size, hva) -> { });
            assertEquals(0, DirtyBitmap.count(m.harvestDirty(null)), "a new log starts empty");
        }
    }

    @Test
    void startAndStopReRegisterEachSlotWithAndWithoutTheFlag() {
        List<String> calls = new ArrayList<>();
        MemorySlotSink sink = (slot, flags, gpa, size, hva) -> calls.add(slot + ":" + flags + ":" + Long.toHexString(gpa)
                + ":" + Long.toHexString(size));
        GuestMemory m = twoRegions();
        List<MemorySlot> slots = m.registerSlots(sink, 3);
        m.startDirtyLog(sink);
        assertEquals(LOG, slots.get(0).flags());
        VmCoreException twice = assertThrows(VmCoreException.class, () -> m.startDirtyLog(sink));
        assertEquals(VmCoreException.Reason.INVALID, twice.reason(), "one owner");
        assertThrows(VmCoreException.class, () -> m.registerSlots(sink, 9), "no new slots while logging");
        m.stopDirtyLog(sink);
        m.stopDirtyLog(sink); // again: nothing
        assertEquals(0, slots.get(1).flags());
        m.close();
        assertEquals(List.of("3:0:0:10000", "4:0:100000:50000",
                "3:1:0:10000", "4:1:100000:50000",
                "3:0:0:10000", "4:0:100000:50000",
                "4:0:100000:0", "3:0:0:0"), calls);
    }

    @Test
    void aSlotKvmRefusesLeavesLoggingOffAndTheOtherSlotsAsTheyWere() {
        List<String> calls = new ArrayList<>();
        GuestMemory m = twoRegions();
        m.registerSlots((slot, flags, gpa, size, hva) -> { }, 0);
        MemorySlotSink refuseSlot1 = (slot, flags, gpa, size, hva) -> {
            if (slot == 1 && flags == LOG) {
                throw new IllegalStateException("EINVAL");
            }
            calls.add(slot + ":" + flags);
        };
        assertThrows(IllegalStateException.class, () -> m.startDirtyLog(refuseSlot1));
        assertFalse(m.dirtyLogging());
        assertEquals(List.of("0:1", "0:0"), calls, "slot 0 put back without the flag");
        assertEquals(0, m.registerSlots((slot, flags, gpa, size, hva) -> { }, 5).get(0).flags());
        m.close();
    }

    @Test
    void harvestOrsKvmsBitmapOfEachSlotWithTheDevicesWritesThroughAReusedBuffer() {
        GuestMemory m = twoRegions();
        m.registerSlots((slot, flags, gpa, size, hva) -> { }, 7);
        m.startDirtyLog((slot, flags, gpa, size, hva) -> { });
        // a fake KVM: slot 7 (region 0, 16 pages) has pages 0 and 2 dirty; slot 8 (80 pages) page 65, then nothing
        Map<Integer, List<Long>> buffers = new HashMap<>();
        AtomicLong calls = new AtomicLong();
        DirtyLogSource kvm = (slot, bitmap) -> {
            buffers.computeIfAbsent(slot, k -> new ArrayList<>()).add(bitmap);
            if (calls.getAndIncrement() < 2) {
                if (slot == 7) {
                    Native.putLong(bitmap, 0b101);
                } else {
                    assertEquals(8, slot);
                    assertEquals(0, Native.getLong(bitmap), "the buffer is cleared before KVM writes it");
                    Native.putLong(bitmap + 8, 0b10);
                }
            }
        };
        m.markDirtyHost(m.hostAddress(0x2000, 1), 1);   // also KVM's: counted once
        m.markDirtyHost(m.hostAddress(0x5000, 1), 1);
        m.markDirtyHost(m.hostAddress(0x100000, 1), 1);
        List<DirtyBitmap> h = m.harvestDirty(kvm);
        assertEquals(List.of(0L, 0x2000L, 0x5000L, 0x100000L, 0x100000 + 65 * P), dirtyGpas(h));
        assertEquals(5, DirtyBitmap.count(h));
        assertArrayEquals(new long[] {0b100101}, h.get(0).words());
        assertArrayEquals(new long[] {1, 0b10}, h.get(1).words());
        assertEquals(0, DirtyBitmap.count(m.harvestDirty(kvm)), "both logs were cleared");
        assertEquals(2, buffers.get(7).size());
        assertEquals(buffers.get(7).get(0), buffers.get(7).get(1), "one native buffer per slot, reused");
        assertEquals(buffers.get(8).get(0), buffers.get(8).get(1));
        m.close();
    }

    @Test
    void aSourceReportingPagesPastTheSlotIsClippedToTheRegion() {
        GuestMemory m = twoRegions();
        m.registerSlots((slot, flags, gpa, size, hva) -> { }, 0);
        m.startDirtyLog((slot, flags, gpa, size, hva) -> { });
        List<DirtyBitmap> h = m.harvestDirty((slot, bitmap) -> Native.fill(bitmap, slot == 0 ? 8 : 16, (byte) -1));
        assertEquals(16, h.get(0).count());
        assertEquals(80, h.get(1).count());
        m.close();
    }

    @Test
    void allPagesHasEveryPageOfEveryRegionAndNoBitPastThem() {
        try (GuestMemory m = twoRegions()) {
            List<DirtyBitmap> all = m.allPages();
            assertEquals(96, DirtyBitmap.count(all));
            assertArrayEquals(new long[] {0xffff}, all.get(0).words());
            assertArrayEquals(new long[] {-1L, 0xffff}, all.get(1).words());
            List<Long> gpas = dirtyGpas(all);
            assertEquals(0x100000 + 79 * P, gpas.get(95));
            assertEquals(m.regions().get(1), all.get(1).region());
        }
    }

    @Test
    void concurrentMarksAndHarvestsLoseNothing() throws Exception {
        try (GuestMemory m = twoRegions()) {
            m.startDirtyLog((slot, flags, gpa, size, hva) -> { });
            long base = m.hostAddress(0x100000, 1);
            int threads = 4, rounds = 20_000;
            long[] seen = new long[80];
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int i = 0; i < rounds; i++) {
                        m.markDirtyHost(base + ((i * 7L + id * 20) % 80) * P, 1);
                    }
                });
                th.start();
                ts.add(th);
            }
            go.countDown();
            while (ts.stream().anyMatch(Thread::isAlive)) {
                m.harvestDirty(null).get(1).forEachDirtyPage(g -> seen[(int) ((g - 0x100000) / P)]++);
            }
            for (Thread th : ts) {
                th.join();
            }
            m.harvestDirty(null).get(1).forEachDirtyPage(g -> seen[(int) ((g - 0x100000) / P)]++);
            for (int p = 0; p < 80; p++) {
                assertTrue(seen[p] > 0, "page " + p + " was marked and must have been harvested");
            }
        }
    }

    /** Sets guest-physical page {@code page}'s bit in the kernel log as vhost would (an atomic OR on the word). */
    private static void kernelMarks(GuestMemory m, long page) {
        long a = m.kernelLogAddress() + 8 * (page >>> 6);
        Native.putLong(a, Native.getLong(a) | 1L << (page & 63));
    }

    @Test
    void theKernelLogIsIndexedByGuestPhysicalPageAndHarvestedIntoEachRegion() {
        // region 1 starts at page 21 (not on a 64-page word) and spans log words 0 and 1 (pages 21..84)
        try (GuestMemory m = GuestMemory.create(List.of(new GuestMemory.Range(0, 0x10000),
                new GuestMemory.Range(0x15000, 0x40000)))) {
            assertEquals(0, m.kernelLogAddress(), "no log while logging is off");
            AtomicLong told = new AtomicLong();
            m.addDirtyLogListener(told::incrementAndGet);
            m.startDirtyLog((slot, flags, gpa, size, hva) -> { });
            assertEquals(1, told.get(), "the listener heard logging start before startDirtyLog returned");
            assertTrue(m.kernelLogAddress() != 0 && m.kernelLogSize() >= 16, "a log covering pages 0..84");
            for (long page : new long[] {3, 21, 63, 64, 84}) {
                kernelMarks(m, page);
            }
            assertEquals(List.of(3 * P, 21 * P, 63 * P, 64 * P, 84 * P), dirtyGpas(m.harvestDirty(null)));
            assertEquals(List.of(), dirtyGpas(m.harvestDirty(null)), "the harvest took the bits");
            kernelMarks(m, 22);
            m.markDirtyHost(m.hostAddress(0x2000, 1), 1); // the VMM's own record still counts
            assertEquals(List.of(2 * P, 22 * P), dirtyGpas(m.harvestDirty(null)));
            m.stopDirtyLog((slot, flags, gpa, size, hva) -> { });
            assertEquals(2, told.get(), "and logging stop");
            assertEquals(0, m.kernelLogAddress());
        }
    }

    @Test
    void aListenerThatCannotLogFailsTheStartAndLoggingStaysOff() {
        try (GuestMemory m = twoRegions()) {
            m.addDirtyLogListener(() -> {
                if (m.kernelLogAddress() != 0) {
                    throw new IllegalStateException("VHOST_SET_LOG_BASE failed");
                }
            });
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> m.startDirtyLog((slot, flags, gpa, size, hva) -> { }));
            assertEquals("VHOST_SET_LOG_BASE failed", e.getMessage());
            assertFalse(m.dirtyLogging());
            assertEquals(0, m.kernelLogAddress());
        }
    }
}

package dev.jvmm.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GuestMemoryTest {
    private static GuestMemory twoRegions() {
        // RAM below a hole and above it, like a VM with an MMIO hole below 4 GiB
        return GuestMemory.create(List.of(new GuestMemory.Range(0, 0x10000), new GuestMemory.Range(0x100000, 0x20000)));
    }

    @Test
    void readsAndWritesLandInTheRightRegion() {
        try (GuestMemory m = twoRegions()) {
            m.putLong(0x8, 0xdeadbeefcafef00dL);
            m.putInt(0x100000 + 0x1fffc, 0x11223344);
            assertEquals(0xdeadbeefcafef00dL, m.getLong(0x8));
            assertEquals(0x11223344, m.getInt(0x11fffc));
            assertEquals(0x30000, m.size());
            assertEquals(m.hostAddress(0x100000, 1) + 0x10, m.hostAddress(0x100010, 4));
        }
    }

    @Test
    void largeRegionsAreHugePageAlignedSoKvmCanMapThemWithHugePages() {
        long mib = 1L << 20;
        try (GuestMemory m = GuestMemory.create(List.of(new GuestMemory.Range(0, 64 * mib),
                new GuestMemory.Range(0x1_0000_0000L, 6 * mib)))) {
            for (GuestMemory.Region r : m.regions()) {
                // gpa and host address agree modulo 2 MiB: KVM's condition for a huge-page mapping
                assertEquals(r.guestPhysAddr() % GuestMemory.HUGE_PAGE, r.hostAddress() % GuestMemory.HUGE_PAGE,
                        "region at gpa 0x" + Long.toHexString(r.guestPhysAddr()));
            }
            m.putLong(64 * mib - 8, 7); // the last byte of each region is mapped
            m.putLong(0x1_0000_0000L + 6 * mib - 8, 8);
            assertEquals(15, m.getLong(64 * mib - 8) + m.getLong(0x1_0000_0000L + 6 * mib - 8));
        }
    }

    @Test
    void accessesOutsideOrAcrossRegionsAreRefused() {
        try (GuestMemory m = twoRegions()) {
            VmCoreException e = assertThrows(VmCoreException.class, () -> m.getInt(0x10000));
            assertEquals(VmCoreException.Reason.OUT_OF_BOUNDS, e.reason());
            assertTrue(e.getMessage().contains("gpa=0x10000"), e.getMessage());
            assertThrows(VmCoreException.class, () -> m.getLong(0xfffc), "straddles the end of region 0");
            assertThrows(VmCoreException.class, () -> m.putInt(0x120000, 1));
            assertThrows(VmCoreException.class, () -> m.hostAddress(-1, 4));
            assertThrows(VmCoreException.class, () -> m.hostAddress(0x100000, Long.MAX_VALUE));
            assertFalse(m.contains(0x100000 + 0x1ffff, 2));
        }
    }

    @Test
    void invalidLayoutsAreRejected() {
        assertEquals(VmCoreException.Reason.OVERLAP, assertThrows(VmCoreException.class, () -> GuestMemory.create(
                List.of(new GuestMemory.Range(0, 0x2000), new GuestMemory.Range(0x1000, 0x1000)))).reason());
        assertEquals(VmCoreException.Reason.INVALID, assertThrows(VmCoreException.class,
                () -> GuestMemory.create(List.of(new GuestMemory.Range(0x800, 0x1000)))).reason());
    }

    @Test
    void slotsAreRegisteredPerRegionAndRemovedOnClose() {
        List<String> calls = new ArrayList<>();
        MemorySlotSink sink = (slot, flags, gpa, size, hva) -> calls.add(slot + ":" + Long.toHexString(gpa) + ":" + Long.toHexString(size));
        GuestMemory m = twoRegions();
        m.registerSlots(sink, 3);
        m.close();
        m.close();
        assertEquals(List.of("3:0:10000", "4:100000:20000", "4:100000:0", "3:0:0"), calls);
    }
}

package dev.jvmm.vfio.pci;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.Bus;
import dev.jvmm.core.pci.MsiCapability;
import dev.jvmm.vfio.VfioException;
import org.junit.jupiter.api.Test;

/** {@link VfioPciDevice} over {@link FakeVfioDevice}s: what the fuzzer found ({@link VfioPciDeviceFuzzTest}). */
class VfioPciDeviceTest {
    private static VfioPciDevice open(FakeVfioDevice fake) {
        FakeIrqs irqs = new FakeIrqs();
        fake.irqs = irqs;
        return new VfioPciDevice("t", fake, new VfioPciDevice.Placement(irqs, new Bus("mmio"), new Bus("pio"),
                new FakeSlots(fake, 0, VfioPciDevice.SLOTS), 0, pin -> 16 + pin));
    }

    /** Header with INTA#, BAR0 register {@code bar0} and region size {@code size}; then the capabilities. */
    private static VfioPciSeeds.In device(int bar0, int sizeLog2, int bar5, int bar5Log2) {
        return new VfioPciSeeds.In().u8(0).header(0x1234, 0x5678, 0x020000, new int[] {bar0, 0, 0, 0, 0, bar5}, 1);
    }

    @Test
    void anIoBarWithBit3SetIsNotPrefetchable() {
        byte[] in = device(0x09, 0, 0, 0).u8(0).u8(0).u8(9).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).bytes();
        VfioPciDevice d = open(FakeVfioDevice.decode(new FuzzCursor(in)));
        assertFalse(d.bars().get(0).prefetchable());
        d.close();
    }

    @Test
    void barsThatCannotBeEmulatedAreRefusedByName() {
        // a 64-bit BAR5, and a 32-bit BAR of 4 GiB: VfioException naming the BAR (was IllegalArgumentException)
        byte[] mem64At5 = device(0, 0, 0x04, 0).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u8(13).u8(0).bytes();
        FakeVfioDevice f = FakeVfioDevice.decode(new FuzzCursor(mem64At5));
        VfioException e = assertThrows(VfioException.class, () -> open(f));
        assertTrue(e.getMessage().contains("BAR5"), e.getMessage());
        assertTrue(f.closed);
        byte[] huge32 = device(0, 0, 0, 0).u8(0).u8(0).u8(33).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).bytes();
        FakeVfioDevice g = FakeVfioDevice.decode(new FuzzCursor(huge32));
        e = assertThrows(VfioException.class, () -> open(g));
        assertTrue(e.getMessage().contains("BAR0"), e.getMessage());
    }

    @Test
    void anMsixTableInNoBarIsRefusedByName() {
        byte[] in = device(0, 0, 0, 0).u8(1).u8(0).u8(0x40).u16(0).u32(7).u32(7).u8(0).u8(13).u8(0).u8(0).u8(0)
                .u8(0).u8(0).u8(0).bytes();
        VfioException e = assertThrows(VfioException.class, () -> open(FakeVfioDevice.decode(new FuzzCursor(in))));
        assertTrue(e.getMessage().contains("BAR7"), e.getMessage());
    }

    @Test
    void aLoopingListShowsEachPassedCapabilityOnce() {
        // a PM capability whose next pointer is itself: the walk sees it 48 times; it is shown once
        byte[] in = device(0, 0, 0, 0).u8(1).u8(3).u8(0x40).u16(3).u16(0).u8(1).u16(0x41).u8(0x40)
                .u8(13).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).bytes();
        VfioPciDevice d = open(FakeVfioDevice.decode(new FuzzCursor(in)));
        assertEquals(1, d.config().findCapabilities(PassedCapabilities.CAP_PM).length);
        d.close();
    }

    @Test
    void aDeviceThatRefusesAConfigWriteDoesNotThrowAtTheGuest() {
        // flag 5: the config region is read-only, so the command register's write to the device fails
        byte[] in = new VfioPciSeeds.In().u8(0x20).header(0x1234, 0x5678, 0x020000, new int[6], 1).u8(0).u8(0)
                .u8(13).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).bytes();
        FakeVfioDevice f = FakeVfioDevice.decode(new FuzzCursor(in));
        VfioPciDevice d = open(f);
        assertDoesNotThrow(() -> d.configWrite(4, 2, 6));
        assertEquals(6, d.configRead(4, 2), "the guest's command register holds what it wrote");
        d.close();
        assertTrue(f.closed);
    }

    @Test
    void aBarMovedOntoAnotherIsNotReachableThereAndRecoversWhenMovedAway() {
        // BAR0 and BAR1 32-bit 16 KiB mappable (memory slots), BAR2 32-bit 4 KiB (trapped), BAR3 and BAR4 I/O 16
        // bytes; a 4 KiB ROM; INTA#
        byte[] in = new VfioPciSeeds.In().u8(0x08).header(0x1234, 0x5678, 0x020000, new int[] {0, 0, 0, 1, 1, 0}, 1)
                .u8(0).u8(0).u8(15).u8(4).u8(15).u8(4).u8(13).u8(0).u8(5).u8(0).u8(5).u8(0).u8(0).u8(12).bytes();
        FakeVfioDevice f = FakeVfioDevice.decode(new FuzzCursor(in));
        f.irqs = new FakeIrqs();
        Bus mmio = new Bus("mmio");
        Bus pio = new Bus("pio");
        FakeSlots slots = new FakeSlots(f, 0, VfioPciDevice.SLOTS);
        VfioPciDevice d = new VfioPciDevice("t", f, new VfioPciDevice.Placement(f.irqs, mmio, pio, slots, 0,
                pin -> 16 + pin));
        long[] at = {0xc000_0000L, 0xc000_4000L, 0xc000_8000L, 0x1000, 0x1010};
        for (int i = 0; i < at.length; i++) {
            d.setBarAddress(i, at[i]);
        }
        d.configWrite(0x04, 2, 0x0003);
        assertEquals(2, slots.live.size());

        // memory slots: BAR1 onto BAR0 is refused by KVM (EEXIST); BAR0 stays; BAR1 comes back where it is moved
        assertDoesNotThrow(() -> d.configWrite(0x14, 4, 0xc000_0000));
        assertEquals(1, slots.live.size(), () -> "slots: " + slots.live);
        assertEquals(at[0], slots.live.values().iterator().next().gpa());
        d.configWrite(0x14, 4, 0xc001_0000);
        assertEquals(2, slots.live.size());
        assertTrue(slots.live.values().stream().anyMatch(s -> s.gpa() == 0xc001_0000L), () -> "slots: " + slots.live);

        // ports: BAR4 onto BAR3 is refused by the bus; moving BAR4 away does not take BAR3's registration with it
        assertDoesNotThrow(() -> d.configWrite(0x20, 4, 0x1000));
        assertEquals("t-bar3", pio.lookup(0x1000).name());
        assertNull(pio.lookup(0x1010));
        d.configWrite(0x20, 4, 0x1030);
        assertEquals("t-bar3", pio.lookup(0x1000).name());
        assertEquals("t-bar4", pio.lookup(0x1030).name());
        // BAR4 onto BAR3 again, then BAR3 moves away: BAR4 is reachable where the guest put it
        d.configWrite(0x20, 4, 0x1000);
        d.configWrite(0x1c, 4, 0x1020);
        assertEquals("t-bar4", pio.lookup(0x1000).name());
        assertEquals("t-bar3", pio.lookup(0x1020).name());

        // the ROM enabled over the trapped BAR2: BAR2 stays; when BAR2 moves away, the ROM is reachable
        assertDoesNotThrow(() -> d.configWrite(0x30, 4, (int) (at[2] | 1)));
        assertEquals("t-bar2", mmio.lookup(at[2]).name());
        d.configWrite(0x18, 4, 0xc002_0000);
        assertEquals("t-rom", mmio.lookup(at[2]).name());
        assertEquals("t-bar2", mmio.lookup(0xc002_0000L).name());

        // memory decoding off and on again with BAR1 over BAR0: the command write places every BAR it can
        d.configWrite(0x14, 4, 0xc000_0000);
        d.configWrite(0x04, 2, 0x0000);
        assertTrue(slots.live.isEmpty());
        assertDoesNotThrow(() -> d.configWrite(0x04, 2, 0x0003));
        assertEquals(1, slots.live.size());
        assertEquals("t-rom", mmio.lookup(at[2]).name(), "the ROM, enabled before BAR2's move, came back");
        assertEquals("t-bar2", mmio.lookup(0xc002_0000L).name());

        d.close();
        assertTrue(slots.live.isEmpty(), () -> "slots left: " + slots.live);
        for (long a : new long[] {at[2], 0xc002_0000L}) {
            assertNull(mmio.lookup(a));
        }
        for (long a : new long[] {0x1000, 0x1020}) {
            assertNull(pio.lookup(a));
        }
    }

    @Test
    void aPassedCapabilityOverlappingMsiDoesNotReachTheDevicesMsi() {
        // PM at 0x4c (8 bytes), MSI at 0x50: the device's list makes PM's PMCSR and data bytes MSI's ID, next pointer
        // and message control
        byte[] in = new VfioPciSeeds.In().u8(0).header(0x1234, 0x5678, 0x020000, new int[6], 0).u8(2)
                .u8(3).u8(0x4c).u16(0x0003).u16(0).u8(1).u8(0x50).u16(0).u8(0)
                .u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).bytes();
        FakeVfioDevice f = FakeVfioDevice.decode(new FuzzCursor(in));
        VfioPciDevice d = open(f);
        int[] pm = d.config().findCapabilities(PassedCapabilities.CAP_PM);
        assertEquals(1, pm.length);
        assertEquals(1, d.config().findCapabilities(MsiCapability.CAP_ID).length);
        d.configWrite(pm[0] + 4, 4, 0xffff_0003);
        d.configWrite(pm[0] + 2, 2, 0xffff);
        for (FakeVfioDevice.ConfigWrite w : f.configWrites) {
            assertFalse(w.offset() < 0x58 && w.offset() + w.size() > 0x50, () -> "reached the device's MSI: " + w);
        }
        d.close();
    }
}

package dev.jvmm.vfio.pci;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.Bus;
import dev.jvmm.vfio.VfioException;
import org.junit.jupiter.api.Test;

/** {@link VfioPciDevice} over {@link FakeVfioDevice}s the fuzzer found refused with the wrong exception. */
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
}

package dev.jvmm.vmm.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.jvmm.core.Bus;
import dev.jvmm.core.BusDevice;
import dev.jvmm.core.pci.PciBar;
import org.junit.jupiter.api.Test;

/** A virtio BAR0 that the guest moves over another device's range, and away again. */
class Bar0MappingTest {
    private static final PciBar BAR0 = new PciBar(0, PciBar.Kind.MEM32, 0x4000, false);

    private static BusDevice device() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
            }
        };
    }

    @Test
    void aBar0MovedOntoAnotherRangeIsRefusedThereAndTheNextMoveLeavesTheOtherRangeAlone() {
        Bus mmio = new Bus("mmio");
        BusDevice other = device();
        BusDevice mine = device();
        mmio.register(0xe000_0000L, 0x4000, other, "other-bar0");
        Bar0Mapping m = new Bar0Mapping(mmio, 0x4000, mine, "virtio-blk-0");
        m.barMoved(null, BAR0, -1, 0xe001_0000L);
        assertSame(mine, mmio.lookup(0xe001_0000L).device());
        // the guest places it over the other device's range: refused there, no exception, the old place is free
        m.barMoved(null, BAR0, 0xe001_0000L, 0xe000_2000L);
        assertEquals(-1, m.registered());
        assertNull(mmio.lookup(0xe001_0000L));
        assertSame(other, mmio.lookup(0xe000_2000L).device());
        // and away again: the other device keeps its range (the old code unregistered whatever sat at 0xe0002000:
        // nothing; but at the other's base, as in the next step, it took the other's range)
        m.barMoved(null, BAR0, 0xe000_2000L, 0xe000_0000L);
        assertSame(other, mmio.lookup(0xe000_0000L).device());
        m.barMoved(null, BAR0, 0xe000_0000L, 0xe002_0000L);
        assertSame(other, mmio.lookup(0xe000_0000L).device(), "the other device's range stays");
        assertSame(mine, mmio.lookup(0xe002_0000L).device());
        m.barMoved(null, BAR0, 0xe002_0000L, -1);
        assertNull(mmio.lookup(0xe002_0000L), "not decoded: off the bus");
        m.barMoved(null, BAR0, -1, 0xe003_0000L);
        m.close();
        assertNull(mmio.lookup(0xe003_0000L));
        assertSame(other, mmio.lookup(0xe000_0000L).device());
    }
}

package dev.jvmm.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BusTest {
    private static final class Recorder implements BusDevice {
        final List<String> log = new ArrayList<>();

        @Override
        public long read(long offset, int size) {
            log.add("r" + offset + "/" + size);
            return 0x40 + offset;
        }

        @Override
        public void write(long offset, int size, long value) {
            log.add("w" + offset + "/" + size + "=" + value);
        }
    }

    @Test
    void exitsAreCountedPerNameAndSurviveARelocation() {
        Bus bus = new Bus("mmio");
        Recorder a = new Recorder();
        bus.register(0x1000, 0x100, a, "vfio-0-bar3+2000");
        bus.read(0x1000, 4);
        bus.write(0x1004, 4, 1);
        bus.write(0x1008, 4, 1);
        bus.read(0x9000, 4); // unclaimed: no device took the exit
        assertTrue(bus.unregister(0x1000));
        bus.register(0x5000, 0x100, a, "vfio-0-bar3+2000"); // the guest moved the BAR
        bus.read(0x5000, 4);
        Bus.Exits e = bus.exitCounts().get("vfio-0-bar3+2000");
        assertEquals(2, e.reads());
        assertEquals(2, e.writes());
        assertEquals(1, bus.exitCounts().size());
        assertEquals(1, bus.unclaimedCount());
    }

    @Test
    void dispatchesByRangeWithRelativeOffsets() {
        Bus bus = new Bus("pio");
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        bus.register(0x3f8, 8, a, "com1");
        bus.register(0x60, 5, b, "i8042");
        assertEquals(0x45, bus.read(0x3fd, 1));
        assertTrue(bus.write(0x64, 1, 0xfe));
        assertEquals(List.of("r5/1"), a.log);
        assertEquals(List.of("w4/1=254"), b.log);
        assertEquals("com1", bus.lookup(0x3ff).name());
        assertNull(bus.lookup(0x400));
    }

    @Test
    void unclaimedAccessesReadAllOnesAndAreCounted() {
        Bus bus = new Bus("mmio");
        assertEquals(0xff, bus.read(0x1234, 1));
        assertEquals(0xffffffffL, bus.read(0x1234, 4));
        assertEquals(-1L, bus.read(0x1234, 8));
        assertFalse(bus.write(0x1234, 4, 7));
        assertEquals(4, bus.unclaimedCount());
    }

    @Test
    void overlappingRegistrationsAreRefusedAndUnregisterFreesTheRange() {
        Bus bus = new Bus("mmio");
        bus.register(0x1000, 0x1000, new Recorder(), "a");
        VmCoreException e = assertThrows(VmCoreException.class, () -> bus.register(0x1800, 0x1000, new Recorder(), "b"));
        assertEquals(VmCoreException.Reason.OVERLAP, e.reason());
        assertTrue(e.getMessage().contains("overlaps a"), e.getMessage());
        assertThrows(VmCoreException.class, () -> bus.register(0x0, 0x1001, new Recorder(), "c"));
        bus.register(0x2000, 0x10, new Recorder(), "adjacent");
        assertTrue(bus.unregister(0x1000));
        bus.register(0x1800, 0x100, new Recorder(), "b");
    }
}

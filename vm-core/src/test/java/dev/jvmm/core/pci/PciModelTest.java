package dev.jvmm.core.pci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jvmm.core.AddressAllocator;
import dev.jvmm.core.BusDevice;
import dev.jvmm.core.VmCoreException;
import dev.jvmm.sys.pci.PciAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PciModelTest {
    private static PciFunction device() {
        PciFunction f = new PciFunction("test", 0x1af4, 0x1042, 0x010000, 1, true);
        f.addBar(new PciBar(0, PciBar.Kind.MEM32, 0x1000, false));
        f.addBar(new PciBar(2, PciBar.Kind.MEM64, 0x4000_0000L, true));
        f.addBar(new PciBar(4, PciBar.Kind.IO, 0x20, false));
        f.setInterrupt(1, 10);
        return f;
    }

    /** Config mechanism #1 as Linux's pci_conf1_read does it. */
    private static int conf1Read(BusDevice ports, int dev, int fn, int reg, int size) {
        ports.write(0, 4, 0x8000_0000L | dev << 11 | fn << 8 | (reg & 0xfc));
        return (int) ports.read(4 + (reg & 3), size);
    }

    private static void conf1Write(BusDevice ports, int dev, int fn, int reg, int size, int v) {
        ports.write(0, 4, 0x8000_0000L | dev << 11 | fn << 8 | (reg & 0xfc));
        ports.write(4 + (reg & 3), size, v & 0xffff_ffffL);
    }

    @Test
    void barSizingFollowsTheSpec() {
        PciFunction f = device();
        f.configWrite(0x10, 4, -1);
        assertEquals(0xffff_f000, f.configRead(0x10, 4)); // 4 KiB, 32-bit, non-prefetchable
        f.configWrite(0x18, 4, -1);
        f.configWrite(0x1c, 4, -1);
        assertEquals(0xc000_000c, f.configRead(0x18, 4)); // 1 GiB, 64-bit, prefetchable
        assertEquals(0xffff_ffff, f.configRead(0x1c, 4));
        f.configWrite(0x20, 4, -1);
        assertEquals(0xffff_ffe1, f.configRead(0x20, 4)); // 32 bytes of I/O
        f.configWrite(0x14, 4, -1);
        assertEquals(0, f.configRead(0x14, 4)); // unimplemented BAR reads 0
    }

    @Test
    void barListenerSeesDecodingFollowTheCommandRegister() {
        PciFunction f = device();
        List<String> moves = new ArrayList<>();
        f.setBarListener((fn, bar, o, n) -> moves.add(bar.index() + ":" + Long.toHexString(o) + "->" + Long.toHexString(n)));
        f.setBarAddress(2, 0x80_0000_0000L);
        f.setBarAddress(0, 0xc000_0000L);
        assertEquals(List.of(), moves); // memory decoding is off
        f.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY);
        assertEquals(List.of("0:ffffffffffffffff->c0000000", "2:ffffffffffffffff->8000000000"), moves);
        moves.clear();
        f.configWrite(0x10, 4, 0xc010_0000);
        assertEquals(List.of("0:c0000000->c0100000"), moves);
        assertEquals(0xc010_0000L, f.barAddress(0));
    }

    @Test
    void capabilityListIsWalkable() {
        PciFunction f = device();
        int a = f.config().addCapability(0x09, new byte[] {0, 0, 4, 1}, null);
        int b = f.config().addCapability(0x11, new byte[12], new byte[] {0, 0, (byte) 0xff, (byte) 0xc0});
        assertEquals(0x40, a);
        assertEquals(0x44, b);
        assertEquals(PciConfigSpace.STATUS_CAP_LIST, f.configRead(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAP_LIST);
        assertEquals(0x40, f.configRead(PciConfigSpace.CAPABILITIES_POINTER, 1));
        assertEquals(0x44, f.configRead(0x41, 1));
        assertArrayEquals(new int[] {0x44}, f.config().findCapabilities(0x11));
        f.configWrite(0x46, 2, 0xffff);
        assertEquals(0xc0ff, f.configRead(0x46, 2)); // only the writable bits changed
        int e1 = f.config().addExtendedCapability(0x10, 1, new byte[8], null);
        int e2 = f.config().addExtendedCapability(0x0b, 1, new byte[8], null);
        assertEquals(0x100, e1);
        assertEquals(0x00010010 | e2 << 20, f.configRead(0x100, 4));
    }

    /**
     * A guest write the device cannot carry out (here, a BAR placed on another device's range makes the device's
     * listener fail, as a bus overlap does) is refused with a log line; the VM's config space stays usable.
     */
    @Test
    void aConfigWriteTheDeviceRefusesDoesNotEndTheVm() {
        PciRootBus bus = new PciRootBus(0);
        PciFunction f = device();
        f.setBarListener((fn, b, o, n) -> {
            if (n >= 0) {
                throw new dev.jvmm.core.VmCoreException(dev.jvmm.core.VmCoreException.Reason.OVERLAP, "overlaps pci-ecam");
            }
        });
        PciAddress a = bus.add(f);
        bus.configWrite(0, a.device(), 0, PciConfigSpace.BAR0, 4, 0xe000_0000);
        bus.configWrite(0, a.device(), 0, PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY); // listener throws
        assertEquals(0xe000_0000, bus.configRead(0, a.device(), 0, PciConfigSpace.BAR0, 4) & 0xffff_fff0);
        assertEquals(0x1af4, bus.configRead(0, a.device(), 0, 0, 2), "the bus still answers");
    }

    @Test
    void conf1AndEcamReachTheSameFunctions() {
        PciRootBus bus = new PciRootBus(0);
        PciAddress hb = bus.add(new PciHostBridge());
        PciFunction f = device();
        PciAddress a = bus.add(f);
        assertEquals("0000:00:00.0", hb.toString());
        assertEquals("0000:00:01.0", a.toString());
        BusDevice ports = bus.configPorts();
        BusDevice ecam = bus.ecam();
        assertEquals(0x0008_1b36, conf1Read(ports, 0, 0, 0, 4));
        assertEquals(0x1042_1af4, conf1Read(ports, 1, 0, 0, 4));
        assertEquals(0x1042, conf1Read(ports, 1, 0, 2, 2));
        assertEquals(0x01, conf1Read(ports, 1, 0, 0x0b, 1)); // class: mass storage
        assertEquals(0xffff_ffff, conf1Read(ports, 2, 0, 0, 4)); // empty slot
        assertEquals(0x1042_1af4L, ecam.read(1L << 15, 4));
        assertEquals(0xffffL, ecam.read(3L << 15, 2));
        conf1Write(ports, 1, 0, 0x3c, 1, 11);
        assertEquals(11, ecam.read((1L << 15) + 0x3c, 1));
        ecam.write((1L << 15) + 0x10, 4, 0xffff_ffffL);
        assertEquals(0xffff_f000, conf1Read(ports, 1, 0, 0x10, 4));
        // extended config space only through ECAM
        f.config().addExtendedCapability(0x10, 1, new byte[8], null);
        assertEquals(0x0001_0010L, ecam.read((1L << 15) + 0x100, 4));
        // disabled address register: all ones
        ports.write(0, 4, 0x0000_0800);
        assertEquals(0xffff_ffffL, ports.read(4, 4));
        assertThrows(IllegalStateException.class, () -> bus.add(new PciHostBridge(), 0, 0));
    }

    @Test
    void allocatorPlacesAlignedRangesAndRefusesOverflow() {
        AddressAllocator w = new AddressAllocator("mmio32", 0xc000_0000L, 0x1000_0000L);
        assertEquals(0xc000_0000L, w.allocate(0x1000, 0x1000));
        assertEquals(0xc010_0000L, w.allocate(0x10_0000, 0x10_0000));
        assertEquals(0xc000_1000L, w.allocate(0x1000, 0x1000));
        w.free(0xc000_1000L);
        assertEquals(0xc000_1000L, w.allocate(0x800, 0x800));
        VmCoreException e = assertThrows(VmCoreException.class, () -> w.allocate(0x2000_0000L, 0x1000));
        assertEquals(VmCoreException.Reason.OUT_OF_BOUNDS, e.reason());
    }
}

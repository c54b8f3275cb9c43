package dev.jvmm.vmm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.pci.PciBar;
import dev.jvmm.core.pci.PciConfigSpace;
import dev.jvmm.core.pci.PciFunction;
import dev.jvmm.core.pci.PciHostBridge;
import dev.jvmm.core.pci.PciRootBus;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.vmm.boot.Layout;
import dev.jvmm.vmm.config.ConsoleSpec;
import dev.jvmm.vmm.devices.GedDevice;
import dev.jvmm.vmm.devices.PciHotplugController;
import dev.jvmm.vmm.devices.PowerDevice;
import dev.jvmm.vmm.devices.PvPanic;
import dev.jvmm.vmm.devices.Serial16550;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Fuzz target: a guest's port and MMIO accesses to the emulated platform, as KVM exits deliver them, dispatched by
 * the real buses of a VM's board ({@link VmBuilder#board}: the 16550 at COM1, the i8042, the ACPI PM registers,
 * pvpanic, CF8/CFC and the ECAM window of the PCI root bus with its host bridge) plus the ACPI GED and the PCI
 * hotplug controller registered as a build registers them, and a PCI function with an I/O, a 32-bit and a 64-bit
 * BAR in slot 1. The input is a sequence of accesses (bus, address near a device or anywhere, size, value, read or
 * write), with now and then bytes arriving at the serial port from the console.
 * <p>Invariants: no access throws (a vCPU thread would die of it); a read returns at most {@code size} bytes of
 * data; the host bridge's and the function's IDs stay read-only; a BAR the guest programs is decoded only at an
 * address aligned to its size; afterwards every platform device, the host bridge and the function save a state that
 * restores into a fresh device, which saves the same bytes again.
 */
class PlatformIoFuzzTest {
    private static final long ECAM = Layout.ECAM_START;
    /** Ports near which the devices sit: COM1, i8042, ACPI PM, pvpanic, GED, hotplug, CF8. */
    private static final int[] PORTS = {Serial16550.COM1, 0x60, PowerDevice.PORT, PvPanic.PORT, GedDevice.PORT,
        PciHotplugController.PORT, PciRootBus.CONFIG_ADDRESS_PORT};

    @FuzzTest(maxDuration = "5m")
    void accesses(FuzzedDataProvider in) throws IOException {
        CompletableFuture<VmExit> exit = new CompletableFuture<>();
        try (Console console = Console.open(new ConsoleSpec(ConsoleSpec.Kind.NONE, null))) {
            VmBuilder.Board board = VmBuilder.board(console, exit, (gsi, level) -> { });
            GedDevice ged = new GedDevice(level -> { });
            board.pio().register(GedDevice.PORT, GedDevice.LENGTH, ged, "acpi-ged");
            List<Integer> ejected = new ArrayList<>();
            PciHotplugController hotplug = new PciHotplugController(ged, ejected::add);
            board.pio().register(PciHotplugController.PORT, PciHotplugController.LENGTH, hotplug, "pci-hotplug");
            Function fn = function();
            board.pci().add(fn, 1, 0);
            int ops = in.consumeInt(0, 200);
            for (int i = 0; i < ops && in.remainingBytes() > 0; i++) {
                access(in, board, hotplug, fn);
            }
            assertEquals(PciHostBridge.VENDOR_REDHAT, board.pci().configRead(0, 0, 0, PciConfigSpace.VENDOR_ID, 2));
            assertEquals(0x1af4, board.pci().configRead(0, 1, 0, PciConfigSpace.VENDOR_ID, 2));
            assertEquals(0x10ff, board.pci().configRead(0, 1, 0, PciConfigSpace.DEVICE_ID, 2));
            Platform platform = new Platform(board.serial(), board.i8042(), board.power(), board.pvpanic(), ged,
                    hotplug, board.hostBridge());
            Map<String, Snapshottable> fresh = SavedStateFuzzTest.platform();
            for (Map.Entry<String, Snapshottable> e : platform.devices().entrySet()) {
                roundTrips(e.getKey(), e.getValue(), fresh.get(e.getKey()));
            }
            roundTrips("fuzz-fn", fn, function());
        }
    }

    private static void access(FuzzedDataProvider in, VmBuilder.Board board, PciHotplugController hotplug,
            PciFunction fn) {
        int what = in.consumeInt(0, 9);
        if (what == 9) { // the console: bytes typed at the serial port
            byte[] b = in.consumeBytes(in.consumeInt(0, 32));
            board.serial().receive(b, b.length);
            return;
        }
        if (what == 8) { // the VMM: a hotplug request
            int slot = in.consumeInt(1, 31); // the hotpluggable slots (requestAdd and requestRemove take no other)
            if (in.consumeBoolean()) {
                hotplug.requestAdd(slot);
            } else {
                hotplug.requestRemove(slot);
            }
            return;
        }
        boolean mmio = what >= 6;
        int size = mmio ? 1 << in.consumeInt(0, 3) : 1 << in.consumeInt(0, 2);
        long addr;
        if (mmio) {
            addr = what == 6 ? ECAM + ((long) in.consumeInt(0, 1) << 20 | (long) in.consumeInt(0, 2) << 15
                    | (long) in.consumeInt(0, 1) << 12 | in.consumeInt(0, 0xfff)) : in.consumeLong();
        } else {
            addr = what < 5 ? PORTS[in.consumeInt(0, PORTS.length - 1)] + in.consumeInt(-2, 8)
                    : in.consumeInt(0, 0xffff);
        }
        long value = in.consumeLong();
        if (in.consumeBoolean()) {
            long v = mmio ? board.mmio().read(addr, size) : board.pio().read(addr, size);
            if (size < 8) {
                assertEquals(0, v >>> (8 * size), String.format("read of %d bytes at 0x%x gave 0x%x", size, addr, v));
            }
        } else if (mmio) {
            board.mmio().write(addr, size, value);
        } else {
            board.pio().write(addr, size, value);
        }
        for (int b = 0; b < 6; b++) {
            long at = fn.decodedAddress(b);
            PciBar bar = bar(fn, b);
            if (at != -1 && bar != null) {
                assertEquals(0, at & (bar.size() - 1), "BAR" + b + " decoded at 0x" + Long.toHexString(at));
            }
        }
    }

    private static PciBar bar(PciFunction fn, int index) {
        for (PciBar b : fn.bars()) {
            if (b.index() == index) {
                return b;
            }
        }
        return null;
    }

    /** A function with an I/O BAR, a 32-bit and a 64-bit memory BAR, as a device model declares them. */
    private static Function function() {
        Function f = new Function();
        f.addBar(new PciBar(0, PciBar.Kind.IO, 0x20, false));
        f.addBar(new PciBar(1, PciBar.Kind.MEM32, 0x1000, false));
        f.addBar(new PciBar(2, PciBar.Kind.MEM64, 0x4000, true));
        f.setInterrupt(1, 11);
        return f;
    }

    /** A PCI function whose state is its config space. */
    private static final class Function extends PciFunction implements Snapshottable {
        Function() {
            super("fuzz-fn", 0x1af4, 0x10ff, 0x020000, 1, true);
        }

        @Override
        public void saveState(java.io.DataOutput out) throws IOException {
            saveConfig(out);
        }

        @Override
        public void restoreState(StateCodec.Reader r) throws IOException {
            restoreConfig(r);
        }
    }

    /** {@code d}'s state restores into {@code fresh}, which then saves the same bytes. */
    private static void roundTrips(String name, Snapshottable d, Snapshottable fresh) throws IOException {
        byte[] saved = save(d);
        fresh.restoreState(new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(saved)), name));
        assertArrayEquals(saved, save(fresh), name + " saves the state it restored");
        assertTrue(saved.length >= 8, name + ": a header at least");
    }

    private static byte[] save(Snapshottable d) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(b)) {
            d.saveState(out);
        }
        return b.toByteArray();
    }
}

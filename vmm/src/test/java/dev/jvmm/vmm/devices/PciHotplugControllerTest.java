package dev.jvmm.vmm.devices;

import static dev.jvmm.vmm.devices.DeviceStates.patchInt;
import static dev.jvmm.vmm.devices.DeviceStates.refused;
import static dev.jvmm.vmm.devices.DeviceStates.restore;
import static dev.jvmm.vmm.devices.DeviceStates.save;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The hotplug controller's registers as the DSDT's PSCN and PCEJ use them (DWord fields at +0, +4, +8, +12). */
class PciHotplugControllerTest {
    private final GedDeviceTest.EdgeLine line = new GedDeviceTest.EdgeLine();
    private final GedDevice ged = new GedDevice(line);
    private final List<Integer> ejected = new CopyOnWriteArrayList<>();
    private final PciHotplugController hp = new PciHotplugController(ged, ejected::add);

    @Test
    void addAndRemoveRequestsRaiseTheGedEventAndReadClear() {
        hp.requestAdd(5);
        assertEquals(GedDevice.PCI_HOTPLUG, ged.pending());
        assertEquals(1, line.edges.availablePermits());
        assertEquals(1L << 5, hp.read(PciHotplugController.PCIU, 4));
        assertEquals(0, hp.read(PciHotplugController.PCIU, 4), "PCIU clears when read");
        hp.requestRemove(7);
        hp.requestRemove(31);
        hp.requestAdd(1);
        assertEquals(1L << 31 | 1L << 7, hp.read(PciHotplugController.PCID, 4));
        assertEquals(0, hp.read(PciHotplugController.PCID, 4), "PCID clears when read");
        assertEquals(1L << 1, hp.read(PciHotplugController.PCIU, 4));
        assertEquals(4, line.edges.availablePermits(), "a GED edge per request");
        assertEquals(GedDevice.PCI_HOTPLUG, ged.read(0, 1));
        assertThrows(IllegalArgumentException.class, () -> hp.requestAdd(0), "the host bridge's slot");
        assertThrows(IllegalArgumentException.class, () -> hp.requestRemove(32));
        assertThrows(IllegalArgumentException.class, () -> hp.requestAdd(-1));
        assertEquals(0, ged.pending(), "a refused request raises nothing");
    }

    @Test
    void anEjectBitmapNamesEverySlotSetButSlotZero() {
        hp.write(PciHotplugController.B0EJ, 4, 1L << 3);
        assertEquals(List.of(3), ejected);
        ejected.clear();
        hp.write(PciHotplugController.B0EJ, 4, 1L << 31 | 1L << 9 | 1L << 2 | 1);
        assertEquals(List.of(2, 9, 31), ejected, "in slot order; bit 0 (the host bridge) ignored");
        ejected.clear();
        hp.write(PciHotplugController.B0EJ, 4, 1);
        hp.write(PciHotplugController.B0EJ, 4, 0);
        assertEquals(List.of(), ejected);
        assertEquals(0, hp.read(PciHotplugController.B0EJ, 4), "B0EJ reads 0");
        assertEquals(0, ged.pending(), "an eject raises no event");
    }

    @Test
    void psegReadsZeroAndBadAccessesReadAllOnesAndDoNothing() {
        assertEquals(0, hp.read(PciHotplugController.PSEG, 4));
        hp.write(PciHotplugController.PSEG, 4, 0xffff_ffffL);
        assertEquals(0, hp.read(PciHotplugController.PSEG, 4));
        hp.write(PciHotplugController.PCIU, 4, 0xffff_ffffL); // read-only registers: ignored
        hp.write(PciHotplugController.PCID, 4, 0xffff_ffffL);
        assertEquals(0, hp.read(PciHotplugController.PCIU, 4));
        assertEquals(0, hp.read(PciHotplugController.PCID, 4));

        hp.requestAdd(4);
        hp.requestRemove(6);
        assertEquals(0xff, hp.read(PciHotplugController.PCIU, 1));
        assertEquals(0xffff, hp.read(PciHotplugController.PCIU, 2));
        assertEquals(0xffff_ffffL, hp.read(2, 4), "unaligned");
        assertEquals(-1L, hp.read(PciHotplugController.PCID, 8));
        assertEquals(0xffff_ffffL, hp.read(16, 4), "past the registers");
        assertEquals(1L << 4, hp.read(PciHotplugController.PCIU, 4), "bad reads did not clear PCIU");
        assertEquals(1L << 6, hp.read(PciHotplugController.PCID, 4), "bad reads did not clear PCID");

        hp.write(PciHotplugController.B0EJ, 1, 0xff);
        hp.write(PciHotplugController.B0EJ, 2, 0xffff);
        hp.write(PciHotplugController.B0EJ + 2, 4, 0xffff_ffffL);
        hp.write(PciHotplugController.B0EJ, 8, -1L);
        assertEquals(List.of(), ejected, "no eject from a bad write");
    }

    /**
     * Slots requested and not yet read survive a restore, and raise the GED's hotplug event again: here the guest
     * had taken the GED event but not yet read PCIU and PCID (its PSCN was about to run).
     */
    @Test
    void pendingSlotsRoundTripAndRaiseTheHotplugEventAgain() throws IOException {
        hp.requestAdd(5);
        hp.requestAdd(31);
        hp.requestRemove(9);
        assertEquals(GedDevice.PCI_HOTPLUG, ged.read(0, 1));
        byte[] gedState = save(ged), hpState = save(hp);

        GedDeviceTest.EdgeLine line2 = new GedDeviceTest.EdgeLine();
        GedDevice ged2 = restore(new GedDevice(line2), gedState);
        assertEquals(List.of(), line2.levels, "the GED had nothing pending");
        List<Integer> ejected2 = new CopyOnWriteArrayList<>();
        PciHotplugController hp2 = restore(new PciHotplugController(ged2, ejected2::add), hpState);
        assertEquals(1, line2.edges.availablePermits(), "the hotplug event raised again");
        assertEquals(GedDevice.PCI_HOTPLUG, ged2.read(0, 1));
        assertEquals(1L << 31 | 1L << 5, hp2.read(PciHotplugController.PCIU, 4));
        assertEquals(1L << 9, hp2.read(PciHotplugController.PCID, 4));
        assertEquals(hp.read(PciHotplugController.PCIU, 4), 1L << 31 | 1L << 5);
        assertEquals(hp.read(PciHotplugController.PCID, 4), 1L << 9);
        assertEquals(0, hp2.read(PciHotplugController.PCIU, 4), "read-clear as on the original");
        hp2.write(PciHotplugController.B0EJ, 4, 1L << 9);
        assertEquals(List.of(9), ejected2, "ejects reach the new listener");
        assertEquals(List.of(), ejected);

        GedDeviceTest.EdgeLine line3 = new GedDeviceTest.EdgeLine();
        GedDevice ged3 = new GedDevice(line3);
        restore(new PciHotplugController(ged3, s -> { }), save(hp));
        assertEquals(List.of(), line3.levels, "no slot pending, no event");
    }

    @Test
    void badStateInputIsRefusedNamingTheField() throws IOException {
        hp.requestAdd(3);
        hp.requestRemove(4);
        byte[] state = save(hp);
        assertEquals(16, state.length);
        DeviceStates.refusesBadInput(state, PciHotplugController.MAGIC,
                () -> new PciHotplugController(new GedDevice(new GedDeviceTest.EdgeLine()), s -> { }));
        GedDeviceTest.EdgeLine line2 = new GedDeviceTest.EdgeLine();
        GedDevice ged2 = new GedDevice(line2);
        PciHotplugController d = new PciHotplugController(ged2, s -> { });
        refused(d, patchInt(state, 8, 1 << 3 | 1), "pciu");
        refused(d, patchInt(state, 12, -1), "pcid");
        assertEquals(0, d.read(PciHotplugController.PCIU, 4), "a refused state leaves the controller as it was");
        assertEquals(0, d.read(PciHotplugController.PCID, 4));
        assertEquals(List.of(), line2.levels);
    }

    /** Requests from several threads while the guest reads PCIU and PCID: every slot asked for is read once. */
    @Test
    void concurrentRequestsAndReadsLoseNoSlot() throws Exception {
        AtomicLong added = new AtomicLong(), removed = new AtomicLong();
        AtomicInteger duplicates = new AtomicInteger();
        Thread guest = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                long u = hp.read(PciHotplugController.PCIU, 4), d = hp.read(PciHotplugController.PCID, 4);
                if ((added.getAndUpdate(v -> v | u) & u) != 0 || (removed.getAndUpdate(v -> v | d) & d) != 0) {
                    duplicates.incrementAndGet();
                }
            }
        }, "guest");
        guest.start();
        List<Thread> apis = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int first = 1 + t;
            Thread a = new Thread(() -> {
                for (int slot = first; slot <= 31; slot += 4) {
                    hp.requestAdd(slot);
                    hp.requestRemove(slot);
                }
            }, "api-" + t);
            apis.add(a);
            a.start();
        }
        for (Thread a : apis) {
            a.join(10_000);
            assertFalse(a.isAlive());
        }
        guest.interrupt();
        guest.join(10_000);
        long u = hp.read(PciHotplugController.PCIU, 4), d = hp.read(PciHotplugController.PCID, 4);
        assertEquals(0xffff_fffeL, added.get() | u);
        assertEquals(0xffff_fffeL, removed.get() | d);
        assertEquals(0, duplicates.get(), "a slot was read twice");
        assertEquals(62, line.edges.availablePermits(), "a GED edge per request");
    }
}

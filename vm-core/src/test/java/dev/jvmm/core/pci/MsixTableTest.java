package dev.jvmm.core.pci;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.irq.MsiInterrupt;
import dev.jvmm.sys.EventFd;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MsixTableTest {
    /** An MSI vector backed by a real eventfd that records the routes it was given. */
    static final class RecordingMsi implements MsiInterrupt {
        final EventFd fd = EventFd.create("test-msi");
        final List<String> routes = new ArrayList<>();

        public EventFd eventFd() {
            return fd;
        }

        public void route(long address, int data) {
            routes.add(String.format("0x%x/0x%x", address, data));
        }

        public void unroute() {
            routes.add("none");
        }

        public int gsi() {
            return 24;
        }

        /** Holds as the router does: while held, signals stay in the eventfd (read here as the pending state). */
        final List<Boolean> holds = new ArrayList<>();
        boolean heldSignal;

        public void hold(boolean held) {
            holds.add(held);
            if (!held) {
                heldSignal = false;
            }
        }

        public boolean heldSignal() {
            if (!holds.isEmpty() && holds.get(holds.size() - 1) && fd.drain() > 0) {
                heldSignal = true;
            }
            return heldSignal;
        }

        public void close() {
            fd.close();
        }
    }

    private final List<RecordingMsi> made = new ArrayList<>();

    private RecordingMsi msi() {
        RecordingMsi m = new RecordingMsi();
        made.add(m);
        return m;
    }

    @AfterEach
    void close() {
        made.forEach(RecordingMsi::close);
    }

    private static PciFunction function() {
        PciFunction f = new PciFunction("t", 0x1af4, 0x1042, 0x018000, 1, false);
        f.addBar(new PciBar(0, PciBar.Kind.MEM64, 0x4000, false));
        return f;
    }

    @Test
    void aDeviceSignalledVectorIsHeldWhileMaskedAndItsPendingBitIsTheDevices() {
        MsixTable t = MsixTable.deviceSignalled("vfio-t", 2);
        RecordingMsi a = msi();
        RecordingMsi b = msi();
        t.bind(0, a);
        t.bind(1, b);
        assertEquals(List.of(true), a.holds, "power-on: every vector masked, so held");
        t.writeTable(0, 8, 0xFEE00000L);
        t.writeTable(8, 4, 0x41);
        t.writeTable(12, 4, 0); // unmask vector 0 while MSI-X is still disabled: still not deliverable
        assertEquals(List.of(true), a.holds);
        t.setControl(true, false);
        assertEquals(List.of(true, false), a.holds, "enabled and unmasked: released");
        assertEquals(List.of(true), b.holds, "vector 1 is still masked");
        // the device signals masked vector 1: nothing is delivered, the PBA shows it pending
        b.fd.signal();
        assertEquals(0b10, t.readPba(0, 8));
        assertTrue(t.isPending(1));
        assertFalse(t.isPending(0));
        // the guest masks vector 0 again: held again
        t.writeTable(12, 4, MsixTable.VECTOR_MASKED);
        assertEquals(List.of(true, false, true), a.holds);
        // function mask holds everything unmasked; clearing it releases vector 1 once unmasked
        t.writeTable(16, 8, 0xFEE00000L);
        t.writeTable(24, 4, 0x42);
        t.setControl(true, true);
        t.writeTable(28, 4, 0);
        assertEquals(List.of(true), b.holds, "unmasked under function mask: still held");
        t.setControl(true, false);
        assertEquals(List.of(true, false), b.holds, "function mask cleared: released, its held signal delivered");
        assertFalse(b.heldSignal);
        assertEquals(0, t.readPba(0, 8) & 0b10);
        // a table that is not device-signalled never holds (its device raises vectors through signal())
        MsixTable v = new MsixTable("virtio-t", 1);
        RecordingMsi c = msi();
        v.bind(0, c);
        v.setControl(true, true);
        assertTrue(c.holds.isEmpty());
    }

    @Test
    void capabilityAdvertisesTableSizeAndLocationAndOnlyEnableAndMaskAreWritable() {
        PciFunction f = function();
        MsixTable t = new MsixTable("t", 3);
        MsixCapability cap = MsixCapability.install(f, t, 0, 0x2000, 0x3000);
        int[] found = f.config().findCapabilities(MsixCapability.CAP_ID);
        assertArrayEquals(new int[] {cap.offset()}, found);
        assertEquals(2, f.configRead(cap.offset() + 2, 2) & 0x7ff, "table size - 1");
        assertEquals(0x2000, f.configRead(cap.offset() + 4, 4));
        assertEquals(0x3000, f.configRead(cap.offset() + 8, 4));
        f.configWrite(cap.offset() + 2, 2, 0xffff);
        cap.configWritten(cap.offset() + 2, 2);
        assertEquals(0xc002, f.configRead(cap.offset() + 2, 2));
        assertTrue(t.enabled());
        assertTrue(t.functionMasked());
        f.configWrite(cap.offset() + 4, 4, 0);
        assertEquals(0x2000, f.configRead(cap.offset() + 4, 4), "table offset is read-only");
    }

    @Test
    void maskedVectorBecomesPendingAndIsDeliveredOnUnmask() {
        MsixTable t = new MsixTable("t", 2);
        RecordingMsi m = msi();
        t.bind(1, m);
        t.setControl(true, false);
        t.writeTable(16, 8, 0xfee0_1000L);
        t.writeTable(24, 4, 0x41);
        assertTrue(t.masked(1), "vectors start masked");
        assertTrue(t.signal(1));
        assertEquals(0, m.fd.drain(), "a masked vector must not fire");
        assertTrue(t.isPending(1));
        assertEquals(0b10, t.readPba(0, 8));
        t.writeTable(28, 4, 0); // unmask
        assertEquals(1, m.fd.drain(), "the pending interrupt is sent on unmask");
        assertFalse(t.isPending(1));
        assertEquals(List.of("0xfee01000/0x41"), m.routes);
        assertTrue(t.signal(1));
        assertEquals(1, m.fd.drain());
    }

    @Test
    void functionMaskHoldsEveryVectorAndDisabledMsixDeliversNothing() {
        MsixTable t = new MsixTable("t", 1);
        RecordingMsi m = msi();
        t.bind(0, m);
        assertFalse(t.signal(0), "MSI-X disabled: the caller must fall back");
        t.setControl(true, true);
        t.writeTable(12, 4, 0);
        t.signal(0);
        assertEquals(0, m.fd.drain());
        t.setControl(true, false);
        assertEquals(1, m.fd.drain());
    }

    @Test
    void badAccessesAreIgnoredAndCounted() {
        MsixTable t = new MsixTable("t", 1);
        t.writeTable(2, 2, 0xffff); // unaligned, wrong size
        t.writeTable(16, 4, 1); // beyond the table
        t.writePba(0, 8, -1); // PBA is read-only
        assertEquals(-1L & 0xffff_ffffL, t.readTable(1, 4));
        assertEquals(0, t.readTable(0, 4));
        assertEquals(MsixTable.VECTOR_MASKED, t.readTable(12, 4));
        assertEquals(4, t.rejectedAccesses());
        t.writeTable(12, 4, 0xffff_fffe);
        assertEquals(0, t.readTable(12, 4), "reserved vector-control bits read as zero");
    }
}

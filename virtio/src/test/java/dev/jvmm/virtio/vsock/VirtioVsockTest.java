package dev.jvmm.virtio.vsock;

import static dev.jvmm.virtio.VirtQueue.VIRTQ_DESC_F_WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.VirtQueue;
import dev.jvmm.virtio.VirtioConstants;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * virtio-vsock without a kernel vhost-vsock (unit tier): a fake backend stands for the data path, and the test drives
 * the virtio-pci transport as the Linux driver does. The configuration space holds the 64-bit CID, the features are
 * the backend's, the rx and tx rings go to the backend (the event queue does not), TRANSPORT_RESET reaches the driver's
 * event buffer now or at its next buffer, a malformed event buffer is a guest error, and a restore keeps the
 * destination's CID and resets the transport.
 */
class VirtioVsockTest {
    static final long RINGS = 0x10_0000, EVT = 0x20_0000;
    static final int RING = 16;
    static final long VERSION_1 = 1L << VirtioConstants.VIRTIO_F_VERSION_1;
    static final long SEQPACKET = 1L << VirtioVsock.VIRTIO_VSOCK_F_SEQPACKET;
    private final Deque<AutoCloseable> cleanup = new ArrayDeque<>();

    @AfterEach
    void close() throws Exception {
        while (!cleanup.isEmpty()) {
            cleanup.pop().close();
        }
    }

    /** Records what the device asks of its data path. */
    static class FakeBackend implements VsockBackend {
        final long cid;
        final long features;
        final List<String> calls = new ArrayList<>();
        VirtQueue[] rings;
        long negotiated;
        boolean closed;

        FakeBackend(long cid, long features) {
            this.cid = cid;
            this.features = features;
        }

        @Override
        public long guestCid() {
            return cid;
        }

        @Override
        public long deviceFeatures() {
            return features;
        }

        @Override
        public synchronized void start(GuestMemory memory, long f, VirtQueue[] r, EventFd[] kicks, EventFd[] c,
                EventFd[] errs) {
            assertEquals(2, r.length);
            assertEquals(2, kicks.length);
            for (int i = 0; i < 2; i++) {
                assertTrue(kicks[i].isOpen() && c[i].isOpen() && errs[i].isOpen());
            }
            rings = r;
            negotiated = f;
            calls.add("start");
        }

        @Override
        public synchronized void stop() {
            if (rings != null) {
                calls.add("stop");
                rings = null;
            }
        }

        @Override
        public void close() {
            stop();
            closed = true;
        }
    }

    final class Side {
        final GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, 4 << 20)));
        final TestIrqs irqs = new TestIrqs();
        final FakeBackend backend;
        final VirtioVsock vsock;
        final VirtioPciDevice dev;
        PciTestDriver drv;

        Side(long cid, long features) {
            cleanup.push(mem);
            cleanup.push(irqs);
            backend = new FakeBackend(cid, features);
            vsock = new VirtioVsock("virtio-vsock-0", backend);
            dev = new VirtioPciDevice(vsock, mem, irqs, null, -1);
            cleanup.push(dev);
        }

        Side negotiated(long features) {
            drv = new PciTestDriver(dev, mem, RINGS);
            int st = drv.init(features, 3, RING);
            assertEquals(VirtioConstants.VIRTIO_CONFIG_S_DRIVER_OK, st & VirtioConstants.VIRTIO_CONFIG_S_DRIVER_OK,
                    "status 0x" + Integer.toHexString(st));
            return this;
        }

        /** Makes event buffer {@code i} (4 writable bytes, or {@code flags}) available on the event queue and kicks. */
        void eventBuffer(int i, int len, int flags) {
            TestDriver t = drv.rings.get(VirtioVsock.EVENT);
            mem.putInt(EVT + 16L * i, 0xdeadbeef);
            t.desc(i, EVT + 16L * i, len, flags, 0);
            t.setUsedEvent(t.usedIdx());
            t.publish(i);
            drv.kick(VirtioVsock.EVENT);
        }

        long drvFeatures() {
            return new PciTestDriver(dev, mem, RINGS).deviceFeatures();
        }

        byte[] save() throws Exception {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            dev.quiesce();
            dev.saveState(new DataOutputStream(b));
            return b.toByteArray();
        }
    }

    @Test
    void theConfigurationSpaceIsTheGuestCidAsALittleEndian64BitNumberAndReadOnly() {
        Side s = new Side(0xFFFF_FFFEL, 0);
        assertEquals(19, s.vsock.deviceType());
        assertEquals(8, s.vsock.configSize());
        assertEquals(0xFFFF_FFFE, s.vsock.readConfig(0, 4));
        assertEquals(0, s.vsock.readConfig(4, 4));
        assertEquals(0xFE, s.vsock.readConfig(0, 1));
        s.vsock.writeConfig(0, 4, 7);
        assertEquals(0xFFFF_FFFE, s.vsock.readConfig(0, 4), "guest_cid is read-only");
        assertEquals(3, new VirtioVsock("v", new FakeBackend(3, 0)).readConfig(0, 4));
    }

    @Test
    void reservedAndOutOfRangeCidsAreRefusedByName() {
        for (long cid : new long[] {0, 1, 2, 0xFFFF_FFFFL, 1L << 32, -1}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VirtioVsock.checkCid(cid));
            assertTrue(e.getMessage().startsWith("vsock cid " + Long.toUnsignedString(cid) + " is reserved or out of range"),
                    e.getMessage());
        }
        VirtioVsock.checkCid(3);
        VirtioVsock.checkCid(0xFFFF_FFFEL);
        assertThrows(IllegalArgumentException.class, () -> new VirtioVsock("v", new FakeBackend(2, 0)));
    }

    @Test
    void featuresAreTheBackendsSeqpacketAndTheDataPathGetsRxAndTxOnly() {
        Side plain = new Side(3, 0);
        assertEquals(0, plain.drvFeatures() & SEQPACKET);
        Side s = new Side(4, SEQPACKET | 1L << 40); // a backend's unknown bit is not offered
        long offered = s.drvFeatures();
        assertEquals(SEQPACKET, offered & SEQPACKET);
        assertEquals(0, offered & 1L << 40);
        s.negotiated(VERSION_1 | SEQPACKET);
        assertEquals(List.of("start"), s.backend.calls);
        assertEquals(0, s.backend.rings[0].index());
        assertEquals(1, s.backend.rings[1].index());
        assertEquals(VERSION_1 | SEQPACKET, s.backend.negotiated & (VERSION_1 | SEQPACKET));
        assertTrue(s.vsock.signalsFromKernel());
        s.dev.quiesce();
        assertEquals(List.of("start", "stop"), s.backend.calls, "quiesce hands the rings back");
        s.dev.unquiesce();
        assertEquals(List.of("start", "stop", "start"), s.backend.calls);
        s.dev.close();
        assertTrue(s.backend.closed, "closing the device releases the backend (and its CID)");
    }

    @Test
    void transportResetFillsAnEventBufferNowOrWhenTheDriverGivesOne() throws Exception {
        Side s = new Side(5, 0).negotiated(VERSION_1);
        TestDriver evt = s.drv.rings.get(VirtioVsock.EVENT);
        // no buffer yet: pending
        assertTrue(s.vsock.transportReset());
        assertEquals(0, evt.usedIdx());
        s.eventBuffer(0, 4, VIRTQ_DESC_F_WRITE);
        assertTrue(s.drv.awaitUsed(VirtioVsock.EVENT, 1), "the pending reset went into the buffer the driver gave");
        assertEquals(0, evt.usedId(0));
        assertEquals(4, evt.usedLen(0));
        assertEquals(0, s.mem.getInt(EVT), "id VIRTIO_VSOCK_EVENT_TRANSPORT_RESET");
        assertTrue(s.irqs.vectors.get(VirtioVsock.EVENT).await(), "the event queue's vector fired");
        // a buffer waiting: delivered at once; no reset pending: buffers stay with the device
        s.eventBuffer(1, 8, VIRTQ_DESC_F_WRITE);
        Thread.sleep(50);
        assertEquals(1, evt.usedIdx(), "no event, no used buffer");
        assertTrue(s.vsock.transportReset());
        assertEquals(2, evt.usedIdx());
        assertEquals(1, evt.usedId(1));
        assertEquals(0, s.mem.getInt(EVT + 16));
        assertEquals(2, s.vsock.eventsSent());
        assertFalse(new VirtioVsock("idle", new FakeBackend(9, 0)).transportReset(), "no driver, no event");
    }

    @Test
    void aReadOnlyOrShortEventBufferIsAGuestErrorNotACrash() {
        Side s = new Side(6, 0).negotiated(VERSION_1);
        s.eventBuffer(0, 2, VIRTQ_DESC_F_WRITE);
        s.vsock.transportReset();
        assertNotEquals(0, s.drv.status() & VirtioConstants.VIRTIO_CONFIG_S_NEEDS_RESET, "NEEDS_RESET");
        assertEquals(0, s.drv.rings.get(VirtioVsock.EVENT).usedIdx(), "the bad buffer is not used");
        Side r = new Side(7, 0).negotiated(VERSION_1);
        r.eventBuffer(0, 4, 0);
        r.vsock.transportReset();
        assertNotEquals(0, r.drv.status() & VirtioConstants.VIRTIO_CONFIG_S_NEEDS_RESET, "NEEDS_RESET");
    }

    @Test
    void aRestoredDeviceKeepsTheDestinationsCidAndResetsTheTransport() throws Exception {
        Side a = new Side(10, SEQPACKET).negotiated(VERSION_1 | SEQPACKET);
        a.eventBuffer(0, 4, VIRTQ_DESC_F_WRITE); // the driver keeps a buffer in the event queue
        byte[] state = a.save();
        // the destination: same RAM (it travels), another CID (a migration on one host needs one)
        Side b = new Side(11, SEQPACKET);
        byte[] ram = new byte[4 << 20];
        a.mem.read(0, ram, 0, ram.length);
        b.mem.write(0, ram, 0, ram.length);
        b.dev.restoreState(new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(state)), "virtio-vsock-0"));
        assertEquals(11, b.vsock.readConfig(0, 4), "the destination's CID, which the driver re-reads on the reset");
        assertEquals(List.of(), b.backend.calls, "nothing runs before the VM is loaded");
        b.dev.unquiesce();
        assertEquals(List.of("start"), b.backend.calls);
        TestDriver evt = new TestDriver(b.mem, RING, RINGS + 0x10000L * VirtioVsock.EVENT);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (evt.usedIdx() != 1 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(1, evt.usedIdx(), "TRANSPORT_RESET after the restore");
        assertEquals(0, b.mem.getInt(EVT));
        assertArrayEquals(new long[] {SEQPACKET}, new long[] {b.backend.negotiated & SEQPACKET});
    }

    @Test
    void aBackendThatCannotStartLeavesTheDeviceInNeedsResetWithNoThread() {
        FakeBackend failing = new FakeBackend(12, 0) {
            @Override
            public synchronized void start(GuestMemory m, long f, VirtQueue[] r, EventFd[] k, EventFd[] c, EventFd[] e) {
                throw new IllegalStateException("the kernel's vhost-vsock lacks negotiated features 0x20000000");
            }
        };
        GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, 4 << 20)));
        cleanup.push(mem);
        TestIrqs irqs = new TestIrqs();
        cleanup.push(irqs);
        VirtioVsock v = new VirtioVsock("virtio-vsock-0", failing);
        VirtioPciDevice dev = new VirtioPciDevice(v, mem, irqs, null, -1);
        cleanup.push(dev);
        PciTestDriver drv = new PciTestDriver(dev, mem, RINGS);
        drv.init(VERSION_1, 3, RING);
        assertNotEquals(0, drv.status() & VirtioConstants.VIRTIO_CONFIG_S_NEEDS_RESET);
        assertNull(Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("virtio-vsock-0"))
                .findAny().orElse(null), "no device thread left");
    }
}

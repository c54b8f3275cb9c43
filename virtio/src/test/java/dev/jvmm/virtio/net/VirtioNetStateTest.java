package dev.jvmm.virtio.net;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.net.VirtioNetLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.PciConfigSpace;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.sys.tun.TapDevice;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.blk.BlockBackend;
import dev.jvmm.virtio.blk.CacheMode;
import dev.jvmm.virtio.blk.VirtioBlk;
import dev.jvmm.virtio.net.VirtioNetLayout.Config;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-net's announce (VIRTIO_NET_F_GUEST_ANNOUNCE) and its saved state, against real TAPs in a network namespace
 * created for the test (as {@link VirtioNetTapTest}; skipped without root and /dev/net/tun): the MAC the driver set
 * with CTRL_MAC_ADDR_SET, the active queue pairs and a pending announce travel to a second device on another TAP,
 * which goes on serving the driver's rings. A virtio-net state is refused by a virtio-blk transport.
 */
class VirtioNetStateTest {
    static final long FEATURES = VirtioNetTapTest.FEATURES | 1L << VIRTIO_NET_F_GUEST_ANNOUNCE
            | 1L << VIRTIO_NET_F_CTRL_MAC_ADDR;
    static final byte[] MAC = VirtioNetTapTest.MAC;
    static final byte[] NEW_MAC = {0x52, 0x54, 0x00, (byte) 0xab, (byte) 0xcd, (byte) 0xef};
    static final int RING = 256;
    static final long RINGS = 0x10000, TXBUF = 0x400000, CTRLBUF = 0x500000, ACK = 0x500100;

    @TempDir Path tmp;
    NetnsTap ns;
    final Deque<AutoCloseable> cleanup = new ArrayDeque<>();

    @BeforeEach
    void setUp() throws Exception {
        Assumptions.assumeTrue(NetnsTap.possible(), "needs root and /dev/net/tun to create a netns and a TAP");
        ns = new NetnsTap();
    }

    @AfterEach
    void tearDown() throws Exception {
        while (!cleanup.isEmpty()) {
            cleanup.pop().close();
        }
        if (ns != null) {
            ns.close();
        }
    }

    static GuestMemory ram() {
        return GuestMemory.create(List.of(new GuestMemory.Range(0, 16 << 20)));
    }

    static GuestMemory copyOf(GuestMemory src) {
        GuestMemory dst = ram();
        byte[] chunk = new byte[1 << 20];
        for (long o = 0; o < 16 << 20; o += chunk.length) {
            src.read(o, chunk, 0, chunk.length);
            dst.write(o, chunk, 0, chunk.length);
        }
        return dst;
    }

    /** A virtio-net on its own TAP (in the test's namespace), its transport and, once negotiated, its driver. */
    final class Side {
        final GuestMemory mem;
        final TestIrqs irqs = new TestIrqs();
        final TapDevice tap;
        final VirtioNet net;
        final VirtioPciDevice dev;
        final int pairs;
        PciTestDriver drv;

        Side(GuestMemory mem, int pairs) throws Exception {
            this.mem = mem;
            this.pairs = pairs;
            cleanup.push(mem);
            cleanup.push(irqs);
            tap = ns.open("jvmmt%d", pairs);
            ns.exec("ip", "link", "set", tap.name(), "up");
            net = new VirtioNet("virtio-net-0", tap, MAC, pairs);
            dev = new VirtioPciDevice(net, mem, irqs, null, -1);
            cleanup.push(dev);
        }

        Side negotiated(long features) {
            drv = new PciTestDriver(dev, mem, RINGS);
            assertNotEquals(0, drv.init(features, 2 * pairs + 1, RING) & VIRTIO_CONFIG_S_DRIVER_OK);
            return this;
        }

        int ctrlQueue() {
            return 2 * pairs;
        }

        TestIrqs.Vector configVector() {
            return irqs.vectors.get(irqs.vectors.size() - 1);
        }

        /** One control command (class, cmd, data) on the control queue; returns the ack byte. */
        int ctrl(int cls, int cmd, byte... data) {
            return VirtioNetTapTest.ctrl(drv, mem, ctrlQueue(), CTRLBUF, ACK, cls, cmd, data);
        }

        /** Sends one 60-byte broadcast frame (local experimental ethertype) on pair p's transmit queue. */
        void send(int p) {
            int q = 2 * p + 1;
            TestDriver tx = drv.rings.get(q);
            byte[] f = new byte[12 + 60];
            Arrays.fill(f, 12, 18, (byte) 0xff);
            System.arraycopy(NEW_MAC, 0, f, 18, 6);
            f[24] = (byte) 0x88;
            f[25] = (byte) 0xb5;
            mem.write(TXBUF, f);
            tx.desc(0, TXBUF, f.length, 0, 0);
            int before = tx.usedIdx();
            tx.publish(0);
            drv.kick(q);
            assertTrue(drv.awaitUsed(q, (before + 1) & 0xffff), "tx completed on queue " + q);
        }

        int linkStatus() {
            return (int) dev.bar0().read(VirtioPciDevice.DEVICE_OFFSET + Config.STATUS, 2);
        }

        byte[] configMac() {
            byte[] m = new byte[6];
            for (int i = 0; i < 6; i++) {
                m[i] = (byte) dev.bar0().read(VirtioPciDevice.DEVICE_OFFSET + Config.MAC + i, 1);
            }
            return m;
        }

        /** Attached queues of the TAP, as the kernel counts them (its real rx queues, in sysfs of the namespace). */
        int tapQueues() throws Exception {
            return (int) Arrays.stream(ns.exec("ls", "/sys/class/net/" + tap.name() + "/queues").split("\\s+"))
                    .filter(n -> n.startsWith("rx-")).count();
        }

        byte[] save() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            dev.saveState(new DataOutputStream(b));
            return b.toByteArray();
        }

        void restore(byte[] state) throws IOException {
            dev.restoreState(new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(state)), "virtio-net-0"));
        }

        /** A driver continuing the restored rings (its avail indexes from guest RAM). */
        void driverContinuing() {
            drv = new PciTestDriver(dev, mem, RINGS);
            for (int q = 0; q < 2 * pairs + 1; q++) {
                TestDriver t = new TestDriver(mem, RING, RINGS + 0x10000L * q);
                t.setAvailIdx(mem.getShort(t.avail + 2) & 0xffff);
                drv.rings.add(t);
            }
        }
    }

    // ---- announce ----

    @Test
    void announceSetsTheStatusBitRaisesTheConfigInterruptAndTheAckClearsIt() throws Exception {
        Side a = new Side(ram(), 1).negotiated(FEATURES);
        assertNotEquals(0, a.drv.deviceFeatures() & 1L << VIRTIO_NET_F_GUEST_ANNOUNCE, "GUEST_ANNOUNCE is offered");
        assertNotEquals(0, a.dev.driverFeatures() & 1L << VIRTIO_NET_F_GUEST_ANNOUNCE);
        assertNotEquals(0, a.dev.driverFeatures() & 1L << VIRTIO_NET_F_CTRL_VQ);
        assertEquals(VIRTIO_NET_S_LINK_UP, a.linkStatus());
        TestIrqs.Vector config = a.configVector();
        config.drain();

        assertTrue(a.net.announce());
        assertEquals(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE, a.linkStatus());
        assertTrue(config.await(), "the configuration interrupt was raised");
        assertEquals(VIRTIO_NET_ERR, a.ctrl(VIRTIO_NET_CTRL_ANNOUNCE, 1), "class 3 knows only cmd 0 (ACK)");
        assertEquals(VIRTIO_NET_ERR, a.ctrl(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, (byte) 0),
                "the ACK carries no data");
        assertEquals(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE, a.linkStatus(), "refused commands leave it set");
        assertEquals(VIRTIO_NET_OK, a.ctrl(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK));
        assertEquals(VIRTIO_NET_S_LINK_UP, a.linkStatus(), "the ACK cleared VIRTIO_NET_S_ANNOUNCE, link stays up");

        // again, as after a second migration
        assertTrue(a.net.announce());
        assertTrue(config.await());
        assertEquals(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE, a.linkStatus());
        assertEquals(VIRTIO_NET_OK, a.ctrl(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK));
        assertEquals(VIRTIO_NET_S_LINK_UP, a.linkStatus());
        assertEquals(0, a.dev.guestErrors());
    }

    @Test
    void announceIsRefusedWhenTheDriverDidNotNegotiateItOrIsNotActive() throws Exception {
        Side a = new Side(ram(), 1);
        assertFalse(a.net.announce(), "no driver yet");
        a.negotiated(FEATURES & ~(1L << VIRTIO_NET_F_GUEST_ANNOUNCE));
        assertEquals(0, a.dev.driverFeatures() & 1L << VIRTIO_NET_F_GUEST_ANNOUNCE);
        a.configVector().drain();
        assertFalse(a.net.announce());
        assertEquals(VIRTIO_NET_S_LINK_UP, a.linkStatus(), "the status bit is not set");
        Thread.sleep(100);
        assertEquals(0, a.configVector().drain(), "no configuration interrupt");
        a.drv.write(CommonCfg.DEVICE_STATUS, 1, 0); // reset
        assertFalse(a.net.announce(), "a reset device has no driver to announce");
    }

    // ---- saved state ----

    @Test
    void macQueuePairsAndAPendingAnnounceSurviveSaveAndRestoreAndTheDeviceGoesOnServing() throws Exception {
        Side a = new Side(ram(), 2).negotiated(FEATURES);
        assertEquals(1, a.net.activePairs());
        assertEquals(1, a.tapQueues(), "one TAP queue attached while one pair is active");
        assertEquals(VIRTIO_NET_OK, a.ctrl(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, NEW_MAC));
        assertArrayEquals(NEW_MAC, a.net.mac());
        assertArrayEquals(NEW_MAC, a.configMac());
        assertEquals(VIRTIO_NET_OK, a.ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, (byte) 2, (byte) 0));
        assertEquals(2, a.net.activePairs());
        assertEquals(2, a.tapQueues());
        a.send(1);
        assertEquals(1, a.net.txPackets());
        assertEquals(VIRTIO_NET_OK, a.ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, (byte) 1));
        assertTrue(a.net.announce()); // not acknowledged before the save
        int ctrlUsed = a.drv.rings.get(4).usedIdx();
        assertEquals(3, ctrlUsed, "three control commands so far");

        a.dev.quiesce();
        assertFalse(a.net.threadsAlive());
        byte[] state = a.save();

        Side b = new Side(copyOf(a.mem), 2);
        assertArrayEquals(MAC, b.net.mac(), "built with the configured MAC");
        b.tap.setQueueEnabled(1, false);
        assertEquals(1, b.tapQueues());
        b.restore(state);
        assertArrayEquals(NEW_MAC, b.net.mac(), "the MAC the driver set");
        assertArrayEquals(NEW_MAC, b.configMac());
        assertEquals(2, b.net.activePairs());
        assertEquals(2, b.tapQueues(), "the restore attached pair 1's TAP queue");
        assertEquals(a.dev.driverFeatures(), b.dev.driverFeatures());
        assertEquals(a.dev.status(), b.dev.status());
        assertEquals(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE, b.linkStatus(), "the announce is still pending");
        assertFalse(b.net.threadsAlive(), "a restore leaves the device quiesced until the whole VM is loaded");
        b.dev.unquiesce();
        assertTrue(b.net.threadsAlive());
        assertTrue(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("virtio-net-0-q1")),
                "pair 1's thread runs (only the restored device has threads now)");
        b.dev.quiesce();
        assertArrayEquals(state, b.save(), "the restored device saves the same state");
        b.dev.unquiesce();

        b.driverContinuing();
        assertEquals(ctrlUsed, b.drv.rings.get(4).usedIdx());
        assertEquals(VIRTIO_NET_OK, b.ctrl(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK));
        assertEquals(ctrlUsed + 1, b.drv.rings.get(4).usedIdx(), "the control queue continues its used index");
        assertEquals(VIRTIO_NET_S_LINK_UP, b.linkStatus());
        b.configVector().drain();
        assertTrue(b.net.announce(), "the restored activation has GUEST_ANNOUNCE");
        assertTrue(b.configVector().await(), "on the restored config vector");
        b.send(1);
        assertEquals(1, b.net.txPackets(), "pair 1 transmits through the new TAP");
        b.send(0);
        assertEquals(2, b.net.txPackets());
        assertEquals(0, b.dev.guestErrors());

        a.dev.unquiesce();
        assertTrue(a.net.threadsAlive());
        a.send(0);
        assertEquals(2, a.net.txPackets(), "the original serves again");
    }

    @Test
    void corruptNetStateFieldsAreRefusedByName() throws Exception {
        Side a = new Side(ram(), 2).negotiated(FEATURES);
        a.dev.quiesce();
        byte[] state = a.save();
        // the tail: ... mac(6) rx modes(6) unicast count(4) multicast count(4) active_pairs(4) offloads(8) config blob
        int pairsAt = state.length - 4 - PciConfigSpace.SIZE - 8 - 4;
        int unicastAt = pairsAt - 8;
        assertEquals(1, ByteBuffer.wrap(state).getInt(pairsAt));
        assertEquals(0, ByteBuffer.wrap(state).getInt(unicastAt));
        byte[] s = state.clone();
        ByteBuffer.wrap(s).putInt(pairsAt, 3);
        Side b = new Side(copyOf(a.mem), 2);
        StateFormatException e = assertThrows(StateFormatException.class, () -> b.restore(s));
        assertEquals("active_pairs", e.field(), e.getMessage());
        assertTrue(e.getMessage().startsWith("virtio-net-0 device field active_pairs: 3 is outside 1..2"), e.getMessage());
        byte[] s2 = state.clone();
        ByteBuffer.wrap(s2).putInt(unicastAt, 65);
        Side c = new Side(copyOf(a.mem), 2);
        e = assertThrows(StateFormatException.class, () -> c.restore(s2));
        assertEquals("unicast_table", e.field(), e.getMessage());
        assertFalse(c.net.threadsAlive(), "a refused state starts nothing");
    }

    @Test
    void aVirtioNetStateIsRefusedByAVirtioBlkTransport() throws Exception {
        Side net = new Side(ram(), 1).negotiated(FEATURES);
        net.dev.quiesce();
        byte[] netState = net.save();
        Path img = tmp.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(1 << 20);
        }

        // a one-queue virtio-blk has 2 MSI-X vectors, the net 4
        StateFormatException e = assertThrows(StateFormatException.class, () -> blk(img, 1, net.mem).restore(netState));
        assertEquals("msix.vectors", e.field(), e.getMessage());
        // with as many queues, the net's features are not the blk's
        e = assertThrows(StateFormatException.class, () -> blk(img, 3, net.mem).restore(netState));
        assertEquals("driver_features", e.field(), e.getMessage());
        // features both offer: the device configuration (12 bytes for a net, 60 for a blk) does not fit
        Side plain = new Side(ram(), 1).negotiated(1L << VIRTIO_F_VERSION_1);
        plain.dev.quiesce();
        byte[] plainState = plain.save();
        e = assertThrows(StateFormatException.class, () -> blk(img, 3, plain.mem).restore(plainState));
        assertEquals("device_config", e.field(), e.getMessage());
        assertTrue(e.getMessage().startsWith("virtio-blk-0 device field device_config: length 12, expected 60"),
                e.getMessage());
        // a blk state carrying the net function's PCI config space
        BlkSide fresh = blk(img, 1, tracked(ram()));
        fresh.dev.quiesce();
        byte[] blkState = fresh.save();
        int blob = 4 + PciConfigSpace.SIZE;
        System.arraycopy(netState, netState.length - blob, blkState, blkState.length - blob, blob);
        BlkSide target = blk(img, 1, tracked(ram()));
        e = assertThrows(StateFormatException.class, () -> target.restore(blkState));
        assertEquals("config_space", e.field(), e.getMessage());
        assertTrue(e.getMessage().contains("saved from another function (register 0x02 is 0x1041"), e.getMessage());
    }

    record BlkSide(VirtioPciDevice dev) {
        byte[] save() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            dev.saveState(new DataOutputStream(b));
            return b.toByteArray();
        }

        void restore(byte[] state) throws IOException {
            dev.restoreState(new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(state)), "virtio-blk-0"));
        }
    }

    GuestMemory tracked(GuestMemory m) {
        cleanup.push(m);
        return m;
    }

    /** A virtio-blk transport with {@code queues} queues over {@code mem} (closed with the test). */
    BlkSide blk(Path img, int queues, GuestMemory mem) {
        TestIrqs irqs = new TestIrqs();
        cleanup.push(irqs);
        VirtioBlk blk = new VirtioBlk("virtio-blk-0", BlockBackend.open(img.toString(), false, CacheMode.WRITEBACK),
                queues, null);
        VirtioPciDevice dev = new VirtioPciDevice(blk, mem, irqs, null, -1);
        cleanup.push(dev);
        return new BlkSide(dev);
    }
}

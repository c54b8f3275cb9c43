package dev.jvmm.virtio.pci;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.PciConfigSpace;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.blk.BlockBackend;
import dev.jvmm.virtio.blk.CacheMode;
import dev.jvmm.virtio.blk.VirtioBlk;
import dev.jvmm.virtio.blk.VirtioBlkLayout;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Saved state of the virtio-pci transport with a virtio-blk device: a simulated driver negotiates, programs MSI-X and
 * does I/O; the transport is quiesced and saved, and a second transport over a copy of guest RAM and the same image
 * file is restored from the bytes. The restored transport must look the same to the guest (common configuration,
 * device configuration, MSI-X table and PBA, PCI config space) and go on serving the driver's rings where they were.
 * Hostile or corrupt states must be refused with a {@link StateFormatException} naming the field.
 */
class VirtioStateTest {
    static final long FEATURES = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX
            | 1L << VIRTIO_RING_F_INDIRECT_DESC | 1L << VIRTIO_BLK_F_FLUSH | 1L << VIRTIO_BLK_F_DISCARD
            | 1L << VIRTIO_BLK_F_WRITE_ZEROES | 1L << VIRTIO_BLK_F_SEG_MAX | 1L << VIRTIO_BLK_F_SIZE_MAX
            | 1L << VIRTIO_BLK_F_BLK_SIZE | 1L << VIRTIO_BLK_F_MQ;
    static final int RING = 128;
    static final long RINGS = 0x10000, HDR = 0x80000, STATUS = 0x90000, DATA = 0x100000;
    static final int DRIVER_OK_STATUS = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER
            | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;

    @TempDir Path tmp;
    Path img;
    /** Closed last-in first-out: devices before their interrupts before their RAM. */
    final Deque<AutoCloseable> cleanup = new ArrayDeque<>();

    @BeforeEach
    void image() throws Exception {
        img = tmp.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(4 << 20);
        }
    }

    @AfterEach
    void close() throws Exception {
        Exception first = null;
        while (!cleanup.isEmpty()) {
            try {
                cleanup.pop().close();
            } catch (Exception e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** One VM's worth: guest RAM, interrupts, a virtio-blk on the shared image and its transport. */
    final class Side {
        final GuestMemory mem;
        final TestIrqs irqs = new TestIrqs();
        final VirtioBlk blk;
        final VirtioPciDevice dev;
        PciTestDriver drv;

        Side(GuestMemory mem, int queues) {
            this.mem = mem;
            cleanup.push(mem);
            cleanup.push(irqs);
            blk = new VirtioBlk("virtio-blk-0", BlockBackend.open(img.toString(), false, CacheMode.WRITEBACK), queues,
                    "jvmm-state");
            dev = new VirtioPciDevice(blk, mem, irqs, null, -1);
            cleanup.push(dev);
        }

        /** The driver negotiates, enables MSI-X and sets up {@code queues} queues of {@link #RING} entries. */
        Side negotiated(int queues) {
            drv = new PciTestDriver(dev, mem, RINGS);
            assertEquals(DRIVER_OK_STATUS, drv.init(FEATURES, queues, RING));
            return this;
        }

        byte[] save() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            dev.saveState(new DataOutputStream(b));
            return b.toByteArray();
        }

        void restore(byte[] state) throws IOException {
            dev.restoreState(new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(state)), "virtio-blk-0"));
        }

        /**
         * A driver for a restored transport: the same ring layout, its avail index taken from guest RAM (the driver's
         * own place in its rings, which travelled with RAM). Built after the comparisons: its constructor writes BAR0
         * and the command register.
         */
        void driverContinuing(int queues) {
            drv = new PciTestDriver(dev, mem, RINGS);
            for (int q = 0; q < queues; q++) {
                TestDriver t = new TestDriver(mem, RING, RINGS + 0x10000L * q);
                t.setAvailIdx(mem.getShort(t.avail + 2) & 0xffff);
                drv.rings.add(t);
            }
        }

        /** Publishes header, one data buffer and status on queue q (head 0) and kicks; does not wait. */
        void publish(int q, int type, long sector, long buf, int len) {
            TestDriver t = drv.rings.get(q);
            long hdr = HDR + 0x1000L * q, status = STATUS + 0x1000L * q;
            mem.putInt(hdr, type);
            mem.putInt(hdr + 4, 0);
            mem.putLong(hdr + 8, sector);
            mem.putByte(status, 0xee);
            boolean devWrites = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
            if (len > 0) {
                t.desc(0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
                t.desc(1, buf, len, VIRTQ_DESC_F_NEXT | (devWrites ? VIRTQ_DESC_F_WRITE : 0), 2);
                t.desc(2, status, 1, VIRTQ_DESC_F_WRITE, 0);
            } else {
                t.desc(0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
                t.desc(1, status, 1, VIRTQ_DESC_F_WRITE, 0);
            }
            t.setUsedEvent(t.usedIdx()); // ask for an interrupt for this completion (EVENT_IDX)
            t.publish(0);
            drv.kick(q);
        }

        /** Waits for queue q's used index to reach {@code idx}; returns the request's status byte. */
        int awaitStatus(int q, int idx) {
            assertTrue(drv.awaitUsed(q, idx), "queue " + q + " reached used index " + idx);
            return mem.getByte(STATUS + 0x1000L * q) & 0xff;
        }

        /** One request, start to end; checks the used element it produced, returns the status byte. */
        int request(int q, int type, long sector, long buf, int len) {
            TestDriver t = drv.rings.get(q);
            int before = t.usedIdx();
            publish(q, type, sector, buf, len);
            int st = awaitStatus(q, (before + 1) & 0xffff);
            assertEquals((before + 1) & 0xffff, t.usedIdx(), "one used element added after " + before);
            assertEquals(0, t.usedId(before), "the used element names head 0");
            return st;
        }

        void write(int q, long sector, byte[] data) {
            mem.write(DATA, data, 0, data.length);
            assertEquals(VIRTIO_BLK_S_OK, request(q, VIRTIO_BLK_T_OUT, sector, DATA, data.length));
        }

        byte[] read(int q, long sector, int len) {
            mem.fill(DATA + 0x40000, len, (byte) 0x5a);
            assertEquals(VIRTIO_BLK_S_OK, request(q, VIRTIO_BLK_T_IN, sector, DATA + 0x40000, len));
            byte[] b = new byte[len];
            mem.read(DATA + 0x40000, b, 0, len);
            return b;
        }
    }

    GuestMemory ram(long size) {
        return GuestMemory.create(List.of(new GuestMemory.Range(0, size)));
    }

    /** A second guest RAM with the first one's bytes (what a snapshot's memory file or a migration carries). */
    static GuestMemory copyOf(GuestMemory src) {
        List<GuestMemory.Range> ranges = new ArrayList<>();
        for (GuestMemory.Region r : src.regions()) {
            ranges.add(new GuestMemory.Range(r.guestPhysAddr(), r.size()));
        }
        GuestMemory dst = GuestMemory.create(ranges);
        byte[] chunk = new byte[1 << 20];
        for (GuestMemory.Region r : src.regions()) {
            for (long o = 0; o < r.size(); o += chunk.length) {
                int n = (int) Math.min(chunk.length, r.size() - o);
                src.read(r.guestPhysAddr() + o, chunk, 0, n);
                dst.write(r.guestPhysAddr() + o, chunk, 0, n);
            }
        }
        return dst;
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /**
     * Everything the guest can read from the transport, as "register=value" lines: common configuration (for each
     * feature select and each queue; the selects are read as they are first, then set, identically on both sides),
     * ISR, device configuration, MSI-X table and PBA, and the PCI config space.
     */
    static List<String> guestView(VirtioPciDevice dev) {
        var bar = dev.bar0();
        List<String> v = new ArrayList<>();
        v.add("device_feature_select=" + bar.read(CommonCfg.DEVICE_FEATURE_SELECT, 4));
        v.add("driver_feature_select=" + bar.read(CommonCfg.DRIVER_FEATURE_SELECT, 4));
        v.add("queue_select=" + bar.read(CommonCfg.QUEUE_SELECT, 2));
        v.add("device_status=" + bar.read(CommonCfg.DEVICE_STATUS, 1));
        v.add("config_generation=" + bar.read(CommonCfg.CONFIG_GENERATION, 1));
        v.add("msix_config=" + bar.read(CommonCfg.MSIX_CONFIG, 2));
        v.add("num_queues=" + bar.read(CommonCfg.NUM_QUEUES, 2));
        for (int s = 0; s < 2; s++) {
            bar.write(CommonCfg.DEVICE_FEATURE_SELECT, 4, s);
            bar.write(CommonCfg.DRIVER_FEATURE_SELECT, 4, s);
            v.add("device_feature[" + s + "]=0x" + Long.toHexString(bar.read(CommonCfg.DEVICE_FEATURE, 4)));
            v.add("driver_feature[" + s + "]=0x" + Long.toHexString(bar.read(CommonCfg.DRIVER_FEATURE, 4)));
        }
        int queues = (int) bar.read(CommonCfg.NUM_QUEUES, 2);
        for (int q = 0; q < queues; q++) {
            bar.write(CommonCfg.QUEUE_SELECT, 2, q);
            v.add("queue[" + q + "].size=" + bar.read(CommonCfg.QUEUE_SIZE, 2));
            v.add("queue[" + q + "].msix_vector=" + bar.read(CommonCfg.QUEUE_MSIX_VECTOR, 2));
            v.add("queue[" + q + "].enable=" + bar.read(CommonCfg.QUEUE_ENABLE, 2));
            v.add("queue[" + q + "].notify_off=" + bar.read(CommonCfg.QUEUE_NOTIFY_OFF, 2));
            v.add("queue[" + q + "].desc=0x" + Long.toHexString(bar.read(CommonCfg.QUEUE_DESC, 8)));
            v.add("queue[" + q + "].driver=0x" + Long.toHexString(bar.read(CommonCfg.QUEUE_DRIVER, 8)));
            v.add("queue[" + q + "].device=0x" + Long.toHexString(bar.read(CommonCfg.QUEUE_DEVICE, 8)));
        }
        v.add("isr=" + bar.read(VirtioPciDevice.ISR_OFFSET, 1));
        for (int o = 0; o < dev.device().configSize(); o++) {
            v.add("device_config[" + o + "]=" + bar.read(VirtioPciDevice.DEVICE_OFFSET + o, 1));
        }
        for (int e = 0; e < dev.msix().vectors(); e++) {
            for (int w = 0; w < 16; w += 4) {
                v.add("msix.entry[" + e + "]+" + w + "=0x"
                        + Long.toHexString(bar.read(VirtioPciDevice.MSIX_TABLE_OFFSET + 16L * e + w, 4)));
            }
        }
        v.add("msix.pba=0x" + Long.toHexString(bar.read(VirtioPciDevice.MSIX_PBA_OFFSET, 8)));
        for (int o = 0; o < PciConfigSpace.SIZE; o += 4) {
            v.add(String.format("config[0x%03x]=0x%08x", o, dev.configRead(o, 4)));
        }
        return v;
    }

    static String value(List<String> view, String key) {
        return view.stream().filter(l -> l.startsWith(key + "=")).findFirst()
                .orElseThrow(() -> new AssertionError("no " + key + " in the view")).substring(key.length() + 1);
    }

    // ---- round trip ----

    @Test
    void restoredTransportLooksTheSameToTheGuestAndContinuesItsRings() throws Exception {
        Side a = new Side(ram(16 << 20), 2).negotiated(2);
        byte[] d0 = random(8192, 1), d1 = random(4096, 2);
        a.write(0, 16, d0);
        a.write(1, 100, d1);
        assertArrayEquals(d0, a.read(0, 16, 8192));
        assertArrayEquals(d1, a.read(1, 100, 4096));
        assertTrue(a.irqs.vectors.get(0).await() && a.irqs.vectors.get(1).await(), "each queue's vector fired");
        // enough requests on queue 0 for its indices to wrap the 128-entry ring
        for (int i = 0; i < 140; i++) {
            assertEquals(VIRTIO_BLK_S_OK, a.request(0, VIRTIO_BLK_T_GET_ID, 0, DATA + 0x80000, 20));
        }
        int used0 = a.drv.rings.get(0).usedIdx(), used1 = a.drv.rings.get(1).usedIdx();
        assertEquals(142, used0);
        assertEquals(2, used1);

        a.dev.quiesce();
        a.dev.quiesce(); // idempotent
        byte[] state = a.save();
        assertArrayEquals(state, a.save(), "saving a quiesced transport twice gives the same bytes");
        List<String> viewA = guestView(a.dev);
        assertEquals(String.valueOf(DRIVER_OK_STATUS), value(viewA, "device_status"));
        assertEquals("128", value(viewA, "queue[1].size"));
        assertEquals("1", value(viewA, "queue[1].enable"));
        assertEquals("1", value(viewA, "queue[1].msix_vector"));
        assertEquals("2", value(viewA, "msix_config"));
        assertEquals("0x32", value(viewA, "msix.entry[2]+8"), "vector 2's message data as the driver programmed it");
        assertEquals("0x" + Long.toHexString(RINGS + 0x10000), value(viewA, "queue[1].desc"));

        Side b = new Side(copyOf(a.mem), 2);
        b.restore(state);
        assertFalse(b.blk.threadsAlive(), "a restore leaves the device quiesced until the whole VM is loaded");
        // save(restore(s)) == s
        assertArrayEquals(state, b.save(), "the restored transport saves the same state");
        b.dev.unquiesce();
        List<String> viewB = guestView(b.dev);
        assertEquals(viewA, viewB, "the guest sees the same transport");
        assertEquals(a.dev.driverFeatures(), b.dev.driverFeatures());
        assertNotEquals(0, b.dev.driverFeatures() & 1L << VIRTIO_BLK_F_MQ);
        assertEquals(PciTestDriver.BAR, b.dev.decodedAddress(0), "BAR0 decoded where the state placed it");
        for (int v = 0; v < b.dev.msix().vectors(); v++) {
            assertTrue(b.dev.msix().enabled());
            assertEquals(0xfee0_0000L, b.irqs.vectors.get(v).address, "vector " + v + " routed again");
            assertEquals(0x30 + v, b.irqs.vectors.get(v).data);
        }

        b.driverContinuing(2);
        assertEquals(used0, b.drv.rings.get(0).usedIdx(), "the used index travelled with RAM");
        // what the first VM wrote is on the disk; requests continue the used index (142 → 143, not 0 → 1)
        b.irqs.vectors.forEach(TestIrqs.Vector::drain);
        assertArrayEquals(d0, b.read(0, 16, 8192));
        assertEquals(used0 + 1, b.drv.rings.get(0).usedIdx());
        assertEquals(8192 + 1, b.drv.rings.get(0).usedLen(used0), "used length: data and status");
        assertTrue(b.irqs.vectors.get(0).await(), "queue 0's interrupt on the restored vector 0");
        assertArrayEquals(d1, b.read(1, 100, 4096));
        assertEquals(used1 + 1, b.drv.rings.get(1).usedIdx());
        assertTrue(b.irqs.vectors.get(1).await(), "queue 1's interrupt on the restored vector 1");
        byte[] d2 = random(4096, 3);
        b.write(1, 200, d2);
        assertArrayEquals(d2, b.read(0, 200, 4096));
        assertArrayEquals(d2, Arrays.copyOfRange(Files.readAllBytes(img), 200 * 512, 200 * 512 + 4096));
        assertEquals(0, b.dev.guestErrors());

        // the original, unquiesced, goes on serving its own rings
        a.dev.unquiesce();
        a.dev.unquiesce(); // idempotent
        assertTrue(a.blk.threadsAlive());
        assertArrayEquals(d2, a.read(0, 200, 4096));
        assertEquals(used0 + 1, a.drv.rings.get(0).usedIdx());
        byte[] d3 = random(512, 4);
        a.write(1, 300, d3);
        assertArrayEquals(d3, b.read(1, 300, 512), "the restored device reads what the original wrote");
    }

    @Test
    void requestKickedWhileQuiescedWaitsAndIsServedByTheRestoredDeviceAndByTheOriginalOnUnquiesce() throws Exception {
        Side a = new Side(ram(16 << 20), 1).negotiated(1);
        byte[] d = random(4096, 5);
        a.write(0, 8, d);
        int used = a.drv.rings.get(0).usedIdx();
        a.dev.quiesce();
        assertFalse(a.blk.threadsAlive(), "quiesce stopped the device thread");
        // the guest publishes and kicks after the quiesce (a vCPU still running, or a kick not yet taken)
        a.publish(0, VIRTIO_BLK_T_IN, 8, DATA + 0x40000, 4096);
        Thread.sleep(300);
        assertEquals(used, a.drv.rings.get(0).usedIdx(), "a quiesced device serves nothing");
        assertEquals(0xee, a.mem.getByte(STATUS) & 0xff);
        byte[] state = a.save();

        Side b = new Side(copyOf(a.mem), 1);
        b.restore(state);
        Thread.sleep(300);
        assertEquals(0xee, b.mem.getByte(STATUS) & 0xff, "a restored device serves nothing before it is unquiesced");
        b.dev.unquiesce();
        b.driverContinuing(1);
        // the request is in the rings that travelled with RAM; its kick did not travel: the restored device must look
        assertEquals(VIRTIO_BLK_S_OK, b.awaitStatus(0, used + 1), "the restored device served the pending request");
        byte[] got = new byte[4096];
        b.mem.read(DATA + 0x40000, got, 0, got.length);
        assertArrayEquals(d, got);
        assertTrue(b.irqs.vectors.get(0).await(), "and interrupted");

        a.dev.unquiesce();
        assertEquals(VIRTIO_BLK_S_OK, a.awaitStatus(0, used + 1), "the original served it on unquiesce");
        a.mem.read(DATA + 0x40000, got, 0, got.length);
        assertArrayEquals(d, got);
        assertEquals(used + 1, a.drv.rings.get(0).usedIdx(), "exactly once");
    }

    @Test
    void maskedVectorPendingBitTravelsAndUnmaskDeliversIt() throws Exception {
        Side a = new Side(ram(16 << 20), 1).negotiated(1);
        long ctl0 = VirtioPciDevice.MSIX_TABLE_OFFSET + 12;
        a.drv.write(ctl0, 4, 1); // the driver masks vector 0
        a.irqs.vectors.get(0).drain();
        a.write(0, 0, random(512, 6));
        // the used index moves before the device thread signals: its quiesce (a join) waits for the signal too
        a.dev.quiesce();
        assertEquals(1, a.drv.read(VirtioPciDevice.MSIX_PBA_OFFSET, 8), "vector 0 is pending, not delivered");
        assertEquals(0, a.irqs.vectors.get(0).drain());
        byte[] state = a.save();

        Side b = new Side(copyOf(a.mem), 1);
        b.restore(state);
        assertEquals(1, b.dev.bar0().read(VirtioPciDevice.MSIX_PBA_OFFSET, 8), "still pending after the restore");
        assertEquals(1, b.dev.bar0().read(ctl0, 4), "still masked");
        assertEquals(0, b.irqs.vectors.get(0).drain(), "not delivered by the restore");
        assertEquals(0xfee0_0000L, b.irqs.vectors.get(1).address, "the unmasked config vector is routed");
        b.dev.bar0().write(ctl0, 4, 0);
        assertTrue(b.irqs.vectors.get(0).await(), "unmasking delivers the pending interrupt");
        assertEquals(0, b.dev.bar0().read(VirtioPciDevice.MSIX_PBA_OFFSET, 8));
    }

    @Test
    void aResetDeviceRoundTripsAndTheDriverCanStartOver() throws Exception {
        Side a = new Side(ram(2 << 20), 1);
        a.dev.quiesce();
        byte[] state = a.save();
        Side b = new Side(ram(2 << 20), 1);
        b.restore(state);
        assertEquals(guestView(a.dev), guestView(b.dev));
        assertEquals(0, b.dev.status());
        assertFalse(b.blk.threadsAlive());
        b.negotiated(1);
        byte[] d = random(1024, 7);
        b.write(0, 2, d);
        assertArrayEquals(d, b.read(0, 2, 1024));
    }

    // ---- hostile states ----

    /** Offsets in a saved transport state (format 1) for {@code vectors} MSI-X vectors and {@code queues} queues. */
    record Layout(int vectors, int queues, int length) {
        static final int QUEUE_BYTES = 4 + 38;

        int msixMagic() {
            return 8;
        }

        int msixVectors() {
            return 16;
        }

        int entry(int v) {
            return 20 + 16 * v;
        }

        int pba() {
            return entry(vectors);
        }

        int common() {
            return pba() + 8 * ((vectors + 63) / 64);
        }

        int driverFeatures() {
            return common() + 8;
        }

        int status() {
            return common() + 16;
        }

        int isr() {
            return common() + 28;
        }

        int queueCount() {
            return common() + 36;
        }

        int queue(int q) {
            return common() + 40 + QUEUE_BYTES * q;
        }

        int size(int q) {
            return queue(q) + 4;
        }

        int desc(int q) {
            return queue(q) + 8;
        }

        int avail(int q) {
            return queue(q) + 16;
        }

        int used(int q) {
            return queue(q) + 24;
        }

        int ready(int q) {
            return queue(q) + 32;
        }

        int device() {
            return queue(queues);
        }

        int deviceConfig() {
            return device() + 8;
        }

        int configSpace() {
            return length - 4 - PciConfigSpace.SIZE;
        }
    }

    byte[] base;
    Layout layout;
    GuestMemory baseRam;
    long unoffered;

    /** A negotiated one-queue virtio-blk that did some I/O, quiesced and saved; its layout checked against values. */
    void baseState() throws Exception {
        Side a = new Side(ram(2 << 20), 1).negotiated(1);
        a.write(0, 4, random(1024, 8));
        a.dev.quiesce();
        base = a.save();
        baseRam = a.mem;
        layout = new Layout(2, 1, base.length);
        ByteBuffer b = ByteBuffer.wrap(base);
        assertEquals(0x56504349, b.getInt(0), "VPCI");
        assertEquals(0x4D534958, b.getInt(layout.msixMagic()), "MSIX");
        assertEquals(2, b.getInt(layout.msixVectors()));
        assertEquals(0x31, b.getInt(layout.entry(1) + 8), "vector 1's data");
        assertEquals(a.dev.driverFeatures(), b.getLong(layout.driverFeatures()));
        assertEquals(DRIVER_OK_STATUS, b.getInt(layout.status()));
        assertEquals(1, b.getInt(layout.queueCount()));
        assertEquals(RING, b.getInt(layout.size(0)));
        assertEquals(RINGS, b.getLong(layout.desc(0)));
        assertEquals(1, base[layout.ready(0)]);
        assertEquals(0x56444556, b.getInt(layout.device()), "VDEV");
        assertEquals(VirtioBlkLayout.Config.SIZE, b.getInt(layout.deviceConfig()));
        assertEquals(layout.configSpace(), layout.deviceConfig() + 4 + VirtioBlkLayout.Config.SIZE);
        assertEquals(PciConfigSpace.SIZE, b.getInt(layout.configSpace()));
        assertEquals(VirtioPciDevice.VENDOR_ID, Short.reverseBytes(b.getShort(layout.configSpace() + 4)) & 0xffff,
                "the config space starts with the vendor id");
        unoffered = Long.lowestOneBit(~a.dev.offeredFeatures());
    }

    /** A fresh one-queue transport over the base state's RAM restores {@code state}; returns what it threw. */
    StateFormatException refused(byte[] state) {
        Side t = new Side(baseRam, 1);
        cleanup.remove(baseRam); // shared: closed once, with the base side
        return assertThrows(StateFormatException.class, () -> t.restore(state));
    }

    byte[] mutated(Consumer<ByteBuffer> change) {
        byte[] s = base.clone();
        change.accept(ByteBuffer.wrap(s));
        return s;
    }

    void assertNames(String field, StateFormatException e) {
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().contains(" field " + field + ": "), e.getMessage());
    }

    @Test
    void truncatedStatesAreRefusedNamingTheFieldTheyEndIn() throws Exception {
        baseState();
        for (int len = 0; len < base.length; len++) {
            StateFormatException e = refused(Arrays.copyOf(base, len));
            assertTrue(e.getMessage().contains("truncated"), len + ": " + e.getMessage());
            assertNotNull(e.field(), len + ": " + e.getMessage());
            assertTrue(e.getMessage().contains(" field " + e.field() + ": "), e.getMessage());
            closeTargets();
        }
        assertNames("magic", refused(new byte[0]));
        assertNames("config_space", refused(Arrays.copyOf(base, base.length - 1)));
        assertNames("driver_features", refused(Arrays.copyOf(base, layout.driverFeatures() + 3)));
    }

    /** Closes the targets built by {@link #refused} so far (all but the base side's three resources). */
    void closeTargets() throws Exception {
        while (cleanup.size() > 3) {
            cleanup.pop().close();
        }
    }

    @Test
    void wrongMagicOrVersionIsRefused() throws Exception {
        baseState();
        StateFormatException e = refused(mutated(b -> b.putInt(0, 0x56444556)));
        assertNames("magic", e);
        assertTrue(e.getMessage().startsWith("virtio-blk-0 field magic: 0x56444556 is not a virtio-blk-0"), e.getMessage());
        assertNames("version", refused(mutated(b -> b.putInt(4, 2))));
        assertNames("magic", refused(mutated(b -> b.putInt(layout.msixMagic(), 0))));
        assertNames("magic", refused(mutated(b -> b.putInt(layout.device(), 0x564E4554))));
    }

    @Test
    void driverFeaturesTheDeviceDoesNotOfferAreRefused() throws Exception {
        baseState();
        assertNotEquals(0, unoffered);
        StateFormatException e = refused(mutated(b -> b.putLong(layout.driverFeatures(),
                b.getLong(layout.driverFeatures()) | unoffered)));
        assertNames("driver_features", e);
        assertTrue(e.getMessage().contains("does not offer"), e.getMessage());
    }

    @Test
    void queueSizesThatAreNotAPowerOfTwoOrTooLargeAreRefusedAsSize() throws Exception {
        baseState();
        for (int size : new int[] {100, 0, -1, 512, 1 << 16}) {
            StateFormatException e = refused(mutated(b -> b.putInt(layout.size(0), size)));
            assertNames("size", e);
            assertTrue(e.getMessage().startsWith("virtio-blk-0 queue 0 field size"), e.getMessage());
        }
        // also for a queue that was not enabled
        assertNames("size", refused(mutated(b -> {
            b.putInt(layout.size(0), 100);
            b.put(layout.ready(0), (byte) 0);
        })));
    }

    @Test
    void ringsOutsideGuestRamOrMisalignedAreRefusedAsRings() throws Exception {
        baseState();
        long end = 2 << 20;
        List<Consumer<ByteBuffer>> bad = List.of(
                b -> b.putLong(layout.desc(0), end - 0x100), // the table straddles the end of RAM
                b -> b.putLong(layout.desc(0), 1L << 40),
                b -> b.putLong(layout.desc(0), 0x7fff_ffff_ffff_fff0L), // address + length overflows
                b -> b.putLong(layout.avail(0), -2L),
                b -> b.putLong(layout.used(0), end),
                b -> b.putLong(layout.used(0), b.getLong(layout.used(0)) + 2)); // used ring must be 4-aligned
        for (Consumer<ByteBuffer> c : bad) {
            StateFormatException e = refused(mutated(c));
            assertNames("rings", e);
            assertTrue(e.getMessage().startsWith("virtio-blk-0 queue 0 field rings"), e.getMessage());
        }
    }

    @Test
    void aStateOfAnotherQueueCountIsRefusedAtTheMsixVectorCount() throws Exception {
        baseState();
        Side two = new Side(ram(2 << 20), 2);
        StateFormatException e = assertThrows(StateFormatException.class, () -> two.restore(base));
        assertNames("msix.vectors", e);
        assertTrue(e.getMessage().contains("2 vectors saved, this table has 3"), e.getMessage());
        two.dev.quiesce();
        byte[] other = two.save();
        assertNames("msix.vectors", refused(other));
    }

    @Test
    void aConfigSpaceOfAnotherDeviceTypeIsRefused() throws Exception {
        baseState();
        int cs = layout.configSpace() + 4;
        // what a virtio-net function's config space says: device 0x1041, class 02/00/00
        StateFormatException e = refused(mutated(b -> {
            b.put(cs + PciConfigSpace.DEVICE_ID, (byte) 0x41);
            b.put(cs + PciConfigSpace.DEVICE_ID + 1, (byte) 0x10);
            b.put(cs + PciConfigSpace.CLASS_PROG + 1, (byte) 0x00);
            b.put(cs + PciConfigSpace.CLASS_PROG + 2, (byte) 0x02);
        }));
        assertNames("config_space", e);
        assertTrue(e.getMessage().startsWith("virtio-blk-0 config space field config_space: saved from another function"),
                e.getMessage());
        assertNames("config_space", refused(mutated(b -> b.putInt(layout.configSpace(), 256))));
        // the device configuration is checked too: a virtio-net's is 12 bytes, a virtio-blk's 60
        assertNames("device_config", refused(mutated(b -> b.putInt(layout.deviceConfig(), 12))));
    }

    @Test
    void otherOutOfRangeFieldsAreRefusedByName() throws Exception {
        baseState();
        assertNames("status", refused(mutated(b -> b.putInt(layout.status(), 0x100))));
        assertNames("isr", refused(mutated(b -> b.putInt(layout.isr(), 4))));
        assertNames("queues", refused(mutated(b -> b.putInt(layout.queueCount(), 2))));
        assertNames("ready", refused(mutated(b -> b.put(layout.ready(0), (byte) 2))));
        assertNames("msix.entry[1]", refused(mutated(b -> b.putInt(layout.entry(1) + 12, 2))));
        assertNames("msix.entry[0]", refused(mutated(b -> b.putInt(layout.entry(0), 0xfee0_0001))));
        assertNames("msix.pending", refused(mutated(b -> b.putLong(layout.pba(), 1L << 5))));
    }

    /**
     * Random corruption: 1 to 3 bytes of the state replaced. Every restore either succeeds (a corrupt value that is
     * still a valid state) or throws StateFormatException; none throws anything else.
     */
    @Test
    void randomCorruptionNeverThrowsAnUncheckedException() throws Exception {
        baseState();
        Random r = new Random(42);
        int refusedCount = 0, accepted = 0;
        for (int i = 0; i < 2000; i++) {
            byte[] s = base.clone();
            int n = 1 + r.nextInt(3);
            // most of the state is the 4 KiB config space; aim half of the corruptions at what precedes it
            int span = r.nextBoolean() ? layout.configSpace() + 4 : s.length;
            StringBuilder what = new StringBuilder();
            for (int k = 0; k < n; k++) {
                int at = r.nextInt(span);
                s[at] = (byte) r.nextInt(256);
                what.append(at).append(' ');
            }
            Side t = new Side(baseRam, 1);
            cleanup.remove(baseRam);
            try {
                t.restore(s);
                accepted++;
            } catch (StateFormatException e) {
                refusedCount++;
                assertNotNull(e.field());
            } catch (Throwable e) {
                throw new AssertionError("corruption at " + what + "threw " + e, e);
            }
            closeTargets();
        }
        assertTrue(refusedCount > 100 && accepted > 100, refusedCount + " refused, " + accepted + " accepted");
    }
}

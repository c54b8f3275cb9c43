package dev.jvmm.virtio.net;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.net.VirtioNetLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.MemoryGuard;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.tun.TapDevice;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.pci.FuzzTransport;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Assumptions;

/**
 * Fuzz target: virtio-net as a whole device, behind its real virtio-pci transport, over a real TAP in a private
 * network namespace (made once per run, IPv6 off so that the kernel sends nothing of its own). Frames reach the
 * device's rx from an AF_PACKET socket bound to the TAP inside the namespace, so what the guest receives is also
 * from the input. Guest RAM is two regions with a hole between them. Per input: the features (MRG_RXBUF, the
 * control queue and its RX and MAC commands, checksum and TSO offloads, EVENT_IDX, INDIRECT_DESC may be dropped);
 * up to eight rx buffers (one to three descriptors each: a header-only first descriptor, short ones, ones against the
 * end of RAM or in the hole, device-readable ones); up to four tx chains (a virtio_net_hdr with fuzzed flags and GSO
 * fields, then frame bytes, split over descriptors, sometimes device-writable or shorter than the header); up to
 * three control commands (class, command and payload from the input: RX modes, MAC table, MAC address, announce
 * ack, MQ pairs, guest offloads, unknown ones); up to three frames injected into the TAP (to our MAC, broadcast,
 * multicast or anywhere). The target kicks each queue through BAR0 and waits (bounded) until every tx chain and
 * control command is used and the injected frames are delivered or dropped, the rx buffers ran out, or the device
 * went NEEDS_RESET; then it resets the device and proves that a frame goes out and one comes in.
 * <p>Invariants: only guest protocol errors put the device in NEEDS_RESET (an "internal error" from a device thread
 * is a failure, as is any exception escaping a thread: a default uncaught-exception handler records them); every
 * host access stays inside the VMM's memory and every descriptor inside guest RAM ({@link MemoryGuard}); the device
 * never hangs; a control command's ack is VIRTIO_NET_OK or VIRTIO_NET_ERR; a used rx element never claims more than
 * the chain's writable bytes; the device's thread is alive while it is active; after a reset, tx and rx work.
 */
class VirtioNetFuzzTest {
    private static final long REGION0 = 0x80000, HOLE_END = 0x100000, REGION1 = 0x10000;
    private static final long RINGS = 0x10000, RX = 0x40000, TX = 0x60000, CTRL = 0x70000;
    private static final int QSIZE = 64;
    private static final byte[] MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    private static final long FEATURES = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX
            | 1L << VIRTIO_RING_F_INDIRECT_DESC | 1L << VIRTIO_NET_F_MAC | 1L << VIRTIO_NET_F_STATUS
            | 1L << VIRTIO_NET_F_MRG_RXBUF | 1L << VIRTIO_NET_F_CSUM | 1L << VIRTIO_NET_F_GUEST_CSUM
            | 1L << VIRTIO_NET_F_CTRL_VQ | 1L << VIRTIO_NET_F_CTRL_RX | 1L << VIRTIO_NET_F_CTRL_MAC_ADDR
            | 1L << VIRTIO_NET_F_GUEST_TSO4 | 1L << VIRTIO_NET_F_HOST_TSO4 | 1L << VIRTIO_NET_F_GUEST_ANNOUNCE
            | 1L << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS;
    private static final long DROPPABLE = 1L << VIRTIO_RING_F_EVENT_IDX | 1L << VIRTIO_RING_F_INDIRECT_DESC
            | 1L << VIRTIO_NET_F_MRG_RXBUF | 1L << VIRTIO_NET_F_CSUM | 1L << VIRTIO_NET_F_GUEST_CSUM
            | 1L << VIRTIO_NET_F_CTRL_VQ | 1L << VIRTIO_NET_F_CTRL_RX | 1L << VIRTIO_NET_F_GUEST_TSO4
            | 1L << VIRTIO_NET_F_HOST_TSO4 | 1L << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS;
    private static final long WAIT_NANOS = 10_000_000_000L;
    private static final int AF_PACKET = 17, SOCK_RAW = 3;

    static final ConcurrentLinkedQueue<String> FAILURES = new ConcurrentLinkedQueue<>();

    static {
        FuzzTransport.quietWhenFuzzing();
    }


    private static GuestMemory mem;
    private static NetnsTap ns;
    private static VirtioNet net;
    private static FuzzTransport dev;
    private static PciTestDriver drv;
    /** The AF_PACKET socket in the namespace, its sockaddr_ll and a frame buffer. */
    private static Fd wire;
    private static NativeBuffer wireAddr, wireFrame;

    private static synchronized void setUp() throws Exception {
        if (dev != null) {
            return;
        }
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> FAILURES.add(t.getName() + " died: " + e + " at "
                    + java.util.Arrays.toString(java.util.Arrays.copyOf(e.getStackTrace(), Math.min(6, e.getStackTrace().length)))));
        mem = GuestMemory.create(List.of(new GuestMemory.Range(0, REGION0), new GuestMemory.Range(HOLE_END, REGION1)));
        ns = new NetnsTap();
        NetnsTap cleanup = ns;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                cleanup.close();
            } catch (Exception e) {
                // the namespace stays; nothing else to do at exit
            }
        }));
        ns.exec("sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1");
        ns.exec("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1");
        TapDevice tap = ns.open("jvmmf%d", 1);
        ns.exec("ip", "link", "set", tap.name(), "up");
        int ifindex = Integer.parseInt(ns.exec("cat", "/sys/class/net/" + tap.name() + "/ifindex").trim());
        wire = ns.inside(() -> {
            int s = Native.LIBC.socket(AF_PACKET, SOCK_RAW, 0); // protocol 0: sends, receives nothing
            if (s < 0) {
                throw new ErrnoException("socket(AF_PACKET)", Native.errno(), "fuzz wire");
            }
            return new Fd(s, "fuzz wire");
        });
        wireAddr = new NativeBuffer(20);
        wireAddr.putShort(0, AF_PACKET);
        wireAddr.putShort(2, 0x0008); // htons(ETH_P_IP)
        wireAddr.putInt(4, ifindex);
        wireAddr.putByte(11, 6);
        wireFrame = new NativeBuffer(2048);
        net = new VirtioNet("fuzz-net", tap, MAC, 1);
        dev = new FuzzTransport(net, mem, new TestIrqs(), FAILURES);
        drv = new PciTestDriver(dev, mem, RINGS);
    }

    @FuzzTest(maxDuration = "5m")
    void queues(FuzzedDataProvider in) throws Exception {
        Assumptions.assumeTrue(NetnsTap.possible(), "needs root and /dev/net/tun to create a netns and a TAP");
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        setUp();
        FAILURES.clear();
        long features = FEATURES & ~(in.consumeLong() & DROPPABLE);
        assertNotEquals(0, drv.init(features, 3, QSIZE) & VIRTIO_CONFIG_S_DRIVER_OK);
        TestDriver rx = drv.rings.get(0), tx = drv.rings.get(1), ctrl = drv.rings.get(2);
        boolean indirectOk = (features & 1L << VIRTIO_RING_F_INDIRECT_DESC) != 0;
        boolean ctrlOk = (features & 1L << VIRTIO_NET_F_CTRL_VQ) != 0;

        // control commands
        int ctrlCmds = ctrlOk ? in.consumeInt(0, 3) : 0;
        long[] ackAt = new long[ctrlCmds];
        for (int c = 0; c < ctrlCmds; c++) {
            long buf = CTRL + 0x1000L * c;
            int cls = in.consumeInt(0, 7) == 0 ? in.consumeInt(0, 255) : in.consumeInt(0, 5);
            int cmd = in.consumeInt(0, 7) == 0 ? in.consumeInt(0, 255) : in.consumeInt(0, 5);
            byte[] data = in.consumeBytes(in.consumeInt(0, 64));
            mem.putByte(buf, cls);
            mem.putByte(buf + 1, cmd);
            mem.write(buf + 2, data, 0, data.length);
            ackAt[c] = buf + 0x800;
            mem.putByte(ackAt[c], 0xee);
            ctrl.desc(2 * c, buf, 2 + data.length, VIRTQ_DESC_F_NEXT, 2 * c + 1);
            ctrl.desc(2 * c + 1, ackAt[c], 1, VIRTQ_DESC_F_WRITE, 0);
            ctrl.publish(2 * c);
        }
        if (ctrlCmds > 0) { // first, as a driver sets its rx mode and MAC filter before traffic
            drv.kick(2);
            await(() -> ctrl.usedIdx() == ctrlCmds); // (NEEDS_RESET is looked at below)
        }
        // rx buffers
        int rxChains = in.consumeInt(0, 8), d = 0;
        long[] rxWritable = new long[QSIZE];
        for (int c = 0; c < rxChains; c++) {
            int head = d, n = in.consumeInt(1, 3);
            long w = 0;
            for (int i = 0; i < n; i++) {
                long len = switch (in.consumeInt(0, 4)) {
                    case 0 -> i == 0 ? 12 : in.consumeInt(0, 64);
                    case 1, 2 -> in.consumeInt(0, 2048);
                    case 3 -> in.consumeInt(0, 16);
                    default -> in.consumeInt() & 0xffff_ffffL;
                };
                long a = switch (in.consumeInt(0, 4)) {
                    case 0, 1 -> RX + 0x2000L * c + 0x800L * i + in.consumeInt(0, 16);
                    case 2 -> REGION0 - len; // against the hole
                    case 3 -> HOLE_END + REGION1 - Math.min(len, REGION1) - in.consumeInt(0, 16);
                    default -> in.consumeLong();
                };
                int flags = in.consumeInt(0, 15) == 0 ? 0 : VIRTQ_DESC_F_WRITE;
                w += flags != 0 ? len : 0;
                rx.desc(d, a, (int) len, flags | (i < n - 1 ? VIRTQ_DESC_F_NEXT : 0), d + 1);
                d++;
            }
            rxWritable[head] = w;
            rx.publish(head);
        }
        // tx chains
        int txChains = in.consumeInt(0, 4);
        d = 0;
        for (int c = 0; c < txChains; c++) {
            long buf = TX + 0x1000L * c;
            byte[] hdr = new byte[12];
            if (in.consumeBoolean()) {
                hdr = java.util.Arrays.copyOf(in.consumeBytes(12), 12);
            }
            mem.write(buf, hdr, 0, hdr.length);
            byte[] frame = in.consumeBytes(in.consumeInt(0, 1600));
            mem.write(buf + 12, frame, 0, frame.length);
            int total = 12 + frame.length, segs = in.consumeInt(1, 3), head = d;
            int flagsW = in.consumeInt(0, 31) == 0 ? VIRTQ_DESC_F_WRITE : 0;
            boolean indirect = indirectOk && in.consumeInt(0, 3) == 0;
            long table = TX + 0xc000 + 0x100L * c;
            int off = 0;
            for (int i = 0; i < segs; i++) {
                int len = i == segs - 1 ? total - off : in.consumeInt(0, total - off);
                boolean last = i == segs - 1;
                int flags = (last ? 0 : VIRTQ_DESC_F_NEXT) | (last ? flagsW : 0);
                if (indirect) {
                    tx.desc(table, i, buf + off, len, flags, last ? 0 : i + 1);
                } else {
                    tx.desc(d, buf + off, len, flags, d + 1);
                    d++;
                }
                off += len;
            }
            if (indirect) {
                tx.desc(d++, table, 16 * segs, VIRTQ_DESC_F_INDIRECT, 0);
            }
            tx.publish(head);
        }
        // frames on the wire
        int frames = in.consumeInt(0, 3);
        long before = net.rxPackets() + net.rxDropped();
        for (int f = 0; f < frames; f++) {
            byte[] dst = switch (in.consumeInt(0, 3)) {
                case 0 -> MAC;
                case 1 -> new byte[] {-1, -1, -1, -1, -1, -1};
                case 2 -> new byte[] {0x01, 0x00, 0x5e, 0x00, 0x00, (byte) in.consumeInt(0, 255)};
                default -> java.util.Arrays.copyOf(in.consumeBytes(6), 6);
            };
            byte[] b = in.consumeBytes(in.consumeInt(8, 1500));
            byte[] body = java.util.Arrays.copyOf(b, Math.max(b.length, 8)); // the kernel wants a whole header
            inject(dst, body);
        }

        drv.kick(0);
        drv.kick(1);
        boolean broken = await(() -> tx.usedIdx() == txChains && ctrl.usedIdx() == ctrlCmds
                && (net.rxPackets() + net.rxDropped() - before >= frames || rx.usedIdx() == rxChains));
        if (!broken) {
            assertTrue(net.threadsAlive(), "the device thread runs");
            for (int c = 0; c < ctrlCmds; c++) {
                int ack = mem.getByte(ackAt[c]) & 0xff;
                assertTrue(ack == VIRTIO_NET_OK || ack == VIRTIO_NET_ERR, "control ack " + ack);
            }
            for (int i = 0; i < rx.usedIdx(); i++) {
                int head = rx.usedId(i);
                assertTrue(head >= 0 && head < QSIZE, "rx used id " + head);
                assertTrue((rx.usedLen(i) & 0xffff_ffffL) <= rxWritable[head], "rx used length " + rx.usedLen(i)
                        + " > the chain's " + rxWritable[head] + " writable bytes");
            }
        }
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
        worksAfterReset();
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
    }

    /** Sends an Ethernet frame out of the TAP's interface (so the device reads it from the TAP). */
    private static void inject(byte[] dst, byte[] body) {
        wireFrame.put(0, dst, 0, 6);
        wireFrame.put(6, new byte[] {0x02, 0, 0, 0, 0, 1}, 0, 6);
        wireFrame.put(12, body, 0, body.length);
        long r = Native.LIBC.sendto(wire.fd(), wireFrame.address(), 12 + body.length, 0, wireAddr.address(), 20);
        assertEquals(12 + body.length, r, "sendto on the wire (errno " + Native.errno() + ")");
    }

    /** Waits, bounded, until {@code done} or NEEDS_RESET; returns whether the device went NEEDS_RESET. */
    private static boolean await(java.util.function.BooleanSupplier done) {
        long deadline = System.nanoTime() + WAIT_NANOS;
        for (int spin = 0; ; spin++) {
            if ((dev.status() & VIRTIO_CONFIG_S_NEEDS_RESET) != 0) {
                return true;
            }
            if (done.getAsBoolean()) {
                return false;
            }
            assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
            assertTrue(System.nanoTime() < deadline, () -> "the device hung; " + FAILURES);
            if (spin < 100) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
    }

    /** After a reset, a fresh driver sends a frame and receives one. */
    private static void worksAfterReset() {
        drv.write(CommonCfg.DEVICE_STATUS, 1, 0);
        assertEquals(0, drv.status(), "the reset cleared the status");
        assertNotEquals(0, drv.init(FEATURES, 3, 16) & VIRTIO_CONFIG_S_DRIVER_OK);
        TestDriver rx = drv.rings.get(0), tx = drv.rings.get(1);
        for (int i = 0; i < 4; i++) {
            rx.desc(i, RX + 0x800L * i, 2048, VIRTQ_DESC_F_WRITE, 0);
            rx.publish(i);
        }
        drv.kick(0);
        byte[] frame = new byte[60];
        System.arraycopy(new byte[] {-1, -1, -1, -1, -1, -1}, 0, frame, 0, 6);
        System.arraycopy(MAC, 0, frame, 6, 6);
        mem.write(TX, new byte[12], 0, 12);
        mem.write(TX + 12, frame, 0, frame.length);
        tx.desc(0, TX, 12 + frame.length, 0, 0);
        tx.publish(0);
        drv.kick(1);
        inject(new byte[] {-1, -1, -1, -1, -1, -1}, new byte[50]);
        assertFalse(await(() -> tx.usedIdx() == 1 && rx.usedIdx() >= 1), "a good driver after reset got NEEDS_RESET");
        assertEquals(1, mem.getShort(RX + 0x800L * rx.usedId(0) + 10), "num_buffers");
        drv.write(CommonCfg.DEVICE_STATUS, 1, 0);
    }
}

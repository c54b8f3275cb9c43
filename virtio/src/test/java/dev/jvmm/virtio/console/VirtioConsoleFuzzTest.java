package dev.jvmm.virtio.console;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.console.VirtioConsoleLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.MemoryGuard;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.pci.FuzzTransport;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * Fuzz target: virtio-console's control queues as a hostile driver drives them, behind the real virtio-pci transport.
 * One device lives for the whole run (built once): port 0 a console with no host end, port 1 ("org.example.0") on a
 * unix socket with a client connected (which the target drains: the guest's output must not hold the port), port 2
 * ("org.example.1") with no host end. Guest RAM is two regions with a hole between them. Per input: the features
 * (MULTIPORT, EVENT_IDX, INDIRECT_DESC may be dropped); up to eight c_ivq buffers (any length, sometimes
 * device-readable, in RAM, against the hole or anywhere); up to eight control messages on c_ovq (a port id of the
 * device's, BAD_ID or any; any event and value; 8 bytes, short or long; sometimes device-writable or split over two
 * descriptors), the well-formed DEVICE_READY / PORT_READY / PORT_OPEN among them as often as not; up to four receive
 * buffers and four transmit chains on the ports' queues; bytes from the client. The target kicks every queue and waits
 * (bounded) until the control and transmit chains are used or the device went NEEDS_RESET; then it resets the device
 * and proves that the handshake works: DEVICE_READY is answered with a PORT_ADD per port, PORT_READY with the console
 * and the names.
 * <p>Invariants: only guest protocol errors put the device in NEEDS_RESET (an internal error of its thread is a
 * failure); every host access stays in the VMM's memory and every descriptor in guest RAM ({@link MemoryGuard}); the
 * device never hangs; every message it puts in a c_ivq buffer fits it, is at least 8 bytes, names one of its ports and
 * is an event a device sends (PORT_ADD, CONSOLE_PORT, PORT_OPEN, PORT_NAME with the port's name and a NUL); a used
 * receive buffer never claims more than its writable bytes; its thread is alive while it is active.
 */
class VirtioConsoleFuzzTest {
    private static final long REGION0 = 0x100000, HOLE_END = 0x200000, REGION1 = 0x80000;
    /** Rings (64 KiB per queue, 8 queues), control buffers, receive buffers, transmit data: all in region 0. */
    private static final long RINGS = 0x0, CBUF = 0x80000, DATA = 0x90000, OUT = 0xb0000;
    private static final int QSIZE = 32;
    private static final long FEATURES = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX
            | 1L << VIRTIO_RING_F_INDIRECT_DESC | 1L << VIRTIO_CONSOLE_F_MULTIPORT;
    private static final long DROPPABLE = 1L << VIRTIO_RING_F_EVENT_IDX | 1L << VIRTIO_RING_F_INDIRECT_DESC
            | 1L << VIRTIO_CONSOLE_F_MULTIPORT;
    private static final long WAIT_NANOS = 10_000_000_000L;
    private static final String[] NAMES = {null, "org.example.0", "org.example.1"};

    static final ConcurrentLinkedQueue<String> FAILURES = new ConcurrentLinkedQueue<>();

    static {
        FuzzTransport.quietWhenFuzzing();
    }

    private static GuestMemory mem;
    private static VirtioConsole con;
    private static FuzzTransport dev;
    private static PciTestDriver drv;
    private static SocketChannel client;
    private static final ByteBuffer SINK = ByteBuffer.allocate(1 << 16);

    private static synchronized void setUp() throws Exception {
        if (dev != null) {
            return;
        }
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> FAILURES.add(t.getName() + " died: " + e));
        mem = GuestMemory.create(List.of(new GuestMemory.Range(0, REGION0), new GuestMemory.Range(HOLE_END, REGION1)));
        Path dir = Files.createTempDirectory("jvmm-console-fuzz");
        Path sock = dir.resolve("p1.sock");
        PortEnd p1 = PortEnd.socket(sock);
        Runtime.getRuntime().addShutdownHook(new Thread(p1::close));
        con = new VirtioConsole("fuzz-console", PortEnd.none(), List.of(new VirtioConsole.NamedPort(NAMES[1], p1),
                new VirtioConsole.NamedPort(NAMES[2], PortEnd.none())));
        dev = new FuzzTransport(con, mem, new TestIrqs(), FAILURES);
        drv = new PciTestDriver(dev, mem, RINGS);
        client = SocketChannel.open(StandardProtocolFamily.UNIX);
        client.connect(UnixDomainSocketAddress.of(sock));
        client.configureBlocking(false);
    }

    @FuzzTest(maxDuration = "5m")
    void control(FuzzedDataProvider in) throws Exception {
        assertTrue(MemoryGuard.ON, "the fuzz targets run with -Djvmm.memguard=true");
        setUp();
        FAILURES.clear();
        long features = FEATURES & ~(in.consumeLong() & DROPPABLE);
        boolean mp = (features & 1L << VIRTIO_CONSOLE_F_MULTIPORT) != 0;
        int queues = mp ? con.queueCount() : 2;
        assertNotEquals(0, drv.init(features, queues, QSIZE) & VIRTIO_CONFIG_S_DRIVER_OK);
        boolean indirectOk = (features & 1L << VIRTIO_RING_F_INDIRECT_DESC) != 0;
        int[] next = new int[queues];
        Map<Integer, long[]> controlBuffers = new HashMap<>(); // head -> {addr, len} of a buffer in RAM
        // a buffer anywhere may land on a ring or another buffer (the guest's own doing: the device writes where it is
        // told); then what the device wrote is not checked, only that it neither failed nor hung
        boolean wild = false;
        int ctrlMsgs = 0;
        if (mp) {
            TestDriver civq = ring(VirtioConsole.CONTROL_RX);
            int n = in.consumeInt(0, 8);
            for (int i = 0; i < n; i++) {
                int len = switch (in.consumeInt(0, 3)) {
                    case 0, 1 -> 512;
                    case 2 -> in.consumeInt(1, 16);
                    default -> in.consumeInt(1, 0x2000);
                };
                long addr = switch (in.consumeInt(0, 5)) {
                    case 0, 1, 2 -> CBUF + 0x400L * i;
                    case 3 -> REGION0 - len; // against the hole
                    case 4 -> HOLE_END + REGION1 - len;
                    default -> in.consumeLong();
                };
                boolean writable = in.consumeInt(0, 15) != 0;
                wild |= writable && inGuestRange(addr);
                int head = next[VirtioConsole.CONTROL_RX]++;
                civq.desc(head, addr, len, writable ? VIRTQ_DESC_F_WRITE : 0, 0);
                if (writable && mem.contains(addr, len)) {
                    controlBuffers.put(head, new long[] {addr, len});
                }
                civq.publish(head);
            }
            for (long[] a : controlBuffers.values()) { // two buffers against the hole may overlap
                for (long[] b : controlBuffers.values()) {
                    wild |= a != b && a[0] < b[0] + b[1] && b[0] < a[0] + a[1];
                }
            }
            TestDriver covq = ring(VirtioConsole.CONTROL_TX);
            ctrlMsgs = in.consumeInt(0, 8);
            for (int i = 0; i < ctrlMsgs; i++) {
                long at = CBUF + 0x4000 + 0x100L * i;
                long id;
                int event, value;
                if (in.consumeBoolean()) { // a well-formed step of the handshake
                    int step = in.consumeInt(0, 2);
                    id = step == 0 ? VIRTIO_CONSOLE_BAD_ID : in.consumeInt(0, 2);
                    event = new int[] {VIRTIO_CONSOLE_DEVICE_READY, VIRTIO_CONSOLE_PORT_READY,
                        VIRTIO_CONSOLE_PORT_OPEN}[step];
                    value = step == 2 ? in.consumeInt(0, 1) : 1;
                } else {
                    id = switch (in.consumeInt(0, 3)) {
                        case 0 -> in.consumeInt(0, 3);
                        case 1 -> VIRTIO_CONSOLE_BAD_ID;
                        default -> in.consumeInt() & 0xffff_ffffL;
                    };
                    event = in.consumeBoolean() ? in.consumeInt(0, 8) : in.consumeInt(0, 0xffff);
                    value = in.consumeBoolean() ? in.consumeInt(0, 1) : in.consumeInt(0, 0xffff);
                }
                mem.putInt(at, (int) id);
                mem.putShort(at + 4, event);
                mem.putShort(at + 6, value);
                byte[] tail = in.consumeBytes(in.consumeInt(0, 3) == 0 ? in.consumeInt(0, 64) : 0);
                mem.write(at + 8, tail, 0, tail.length);
                int len = in.consumeInt(0, 7) == 0 ? in.consumeInt(1, 8) : 8 + tail.length;
                int flags = in.consumeInt(0, 15) == 0 ? VIRTQ_DESC_F_WRITE : 0;
                int head = next[VirtioConsole.CONTROL_TX];
                if (len > 1 && in.consumeInt(0, 5) == 0) { // split over two descriptors
                    int first = in.consumeInt(1, len - 1);
                    covq.desc(head, at, first, VIRTQ_DESC_F_NEXT, head + 1);
                    covq.desc(head + 1, at + first, len - first, flags, 0);
                    next[VirtioConsole.CONTROL_TX] += 2;
                } else if (indirectOk && in.consumeInt(0, 5) == 0) {
                    long table = CBUF + 0x6000 + 0x40L * i;
                    covq.desc(table, 0, at, len, flags, 0);
                    covq.desc(head, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
                    next[VirtioConsole.CONTROL_TX]++;
                } else {
                    covq.desc(head, at, len, flags, 0);
                    next[VirtioConsole.CONTROL_TX]++;
                }
                covq.publish(head);
            }
        }
        // data: receive buffers and transmit chains on the ports' queues
        int ports = mp ? 3 : 1;
        Map<Integer, Map<Integer, Long>> rxWritable = new HashMap<>();
        int[] txChains = new int[ports];
        for (int p = 0; p < ports; p++) {
            TestDriver rx = ring(VirtioConsole.rxQueue(p)), tx = ring(VirtioConsole.txQueue(p));
            Map<Integer, Long> w = new HashMap<>();
            rxWritable.put(p, w);
            int n = in.consumeInt(0, 4);
            for (int i = 0; i < n; i++) {
                int len = in.consumeInt(1, 2048);
                long addr = in.consumeInt(0, 7) == 0 ? in.consumeLong() : DATA + 0x2000L * (4 * p + i);
                boolean writable = in.consumeInt(0, 15) != 0;
                wild |= writable && addr != DATA + 0x2000L * (4 * p + i) && inGuestRange(addr);
                int head = next[VirtioConsole.rxQueue(p)]++;
                rx.desc(head, addr, len, writable ? VIRTQ_DESC_F_WRITE : 0, 0);
                w.put(head, writable ? (long) len : 0L);
                rx.publish(head);
            }
            txChains[p] = in.consumeInt(0, 4);
            for (int i = 0; i < txChains[p]; i++) {
                byte[] data = in.consumeBytes(in.consumeInt(1, 1024));
                long addr = OUT + 0x800L * (4 * p + i);
                mem.write(addr, data.length == 0 ? new byte[1] : data, 0, Math.max(1, data.length));
                int flags = in.consumeInt(0, 31) == 0 ? VIRTQ_DESC_F_WRITE : 0;
                int head = next[VirtioConsole.txQueue(p)]++;
                tx.desc(head, addr, Math.max(1, data.length), flags, 0);
                tx.publish(head);
            }
        }
        byte[] fromHost = in.consumeBytes(in.consumeInt(0, 512));
        if (fromHost.length > 0) {
            client.write(ByteBuffer.wrap(fromHost));
        }
        for (int q = 0; q < queues; q++) {
            drv.kick(q);
        }
        int msgs = ctrlMsgs;
        boolean broken = await(() -> (!mp || ring(VirtioConsole.CONTROL_TX).usedIdx() == msgs)
                && allTransmitted(txChains, ports));
        if (!broken) {
            assertTrue(con.threadAlive(), "the device thread runs");
            for (int p = 0; !wild && p < ports; p++) {
                TestDriver rx = ring(VirtioConsole.rxQueue(p));
                for (int i = 0; i < rx.usedIdx(); i++) {
                    Long w = rxWritable.get(p).get(rx.usedId(i));
                    assertNotNull(w, "port " + p + " used an rx head it was not given: " + rx.usedId(i));
                    assertTrue((rx.usedLen(i) & 0xffff_ffffL) <= w, "rx used length " + rx.usedLen(i) + " > " + w);
                }
            }
        }
        if (mp && !wild) {
            checkControlMessages(controlBuffers);
        }
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
        worksAfterReset();
        assertTrue(FAILURES.isEmpty(), () -> "device failures: " + FAILURES);
    }

    /** Whether a buffer at {@code addr} may meet guest RAM (below the end of region 1, unsigned). */
    private static boolean inGuestRange(long addr) {
        return Long.compareUnsigned(addr, HOLE_END + REGION1) < 0;
    }

    private static TestDriver ring(int q) {
        return drv.rings.get(q);
    }

    private static boolean allTransmitted(int[] txChains, int ports) {
        for (int p = 0; p < ports; p++) {
            if (ring(VirtioConsole.txQueue(p)).usedIdx() != txChains[p]) {
                return false;
            }
        }
        return true;
    }

    /** Every message in a c_ivq buffer that lies in RAM: it fits, is whole, names a port and a device's event. */
    private static void checkControlMessages(Map<Integer, long[]> buffers) {
        TestDriver civq = ring(VirtioConsole.CONTROL_RX);
        for (int i = 0; i < civq.usedIdx(); i++) {
            int head = civq.usedId(i);
            long len = civq.usedLen(i) & 0xffff_ffffL;
            assertTrue(head >= 0 && head < QSIZE, "c_ivq used id " + head);
            long[] b = buffers.get(head);
            assertNotNull(b, "a control message in a buffer the device should have refused (head " + head + ")");
            assertTrue(len >= 8 && len <= b[1], "control message of " + len + " bytes in a " + b[1] + "-byte buffer");
            long id = mem.getInt(b[0]) & 0xffff_ffffL;
            int event = mem.getShort(b[0] + 4) & 0xffff;
            assertTrue(id < 3, "control message for port " + id);
            assertTrue(List.of(VIRTIO_CONSOLE_PORT_ADD, VIRTIO_CONSOLE_CONSOLE_PORT, VIRTIO_CONSOLE_PORT_OPEN,
                    VIRTIO_CONSOLE_PORT_NAME).contains(event), "event " + event);
            if (event == VIRTIO_CONSOLE_PORT_NAME) {
                byte[] name = new byte[(int) len - 8];
                mem.read(b[0] + 8, name, 0, name.length);
                assertEquals(NAMES[(int) id] + "\0", new String(name, StandardCharsets.UTF_8));
            } else {
                assertEquals(8, len);
            }
        }
    }

    /** Waits, bounded, until {@code done} or NEEDS_RESET, draining the client; returns whether NEEDS_RESET came. */
    private static boolean await(java.util.function.BooleanSupplier done) throws IOException {
        long deadline = System.nanoTime() + WAIT_NANOS;
        for (int spin = 0; ; spin++) {
            drainClient();
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

    private static void drainClient() throws IOException {
        while (client.read(SINK.clear()) > 0) {
            // the guest's output on port 1
        }
    }

    /** After a reset, a fresh driver's handshake: a PORT_ADD per port, then the console and the names. */
    private static void worksAfterReset() throws IOException {
        drv.write(CommonCfg.DEVICE_STATUS, 1, 0);
        assertEquals(0, drv.status(), "the reset cleared the status");
        assertNotEquals(0, drv.init(FEATURES, con.queueCount(), QSIZE) & VIRTIO_CONFIG_S_DRIVER_OK);
        TestDriver civq = ring(VirtioConsole.CONTROL_RX), covq = ring(VirtioConsole.CONTROL_TX);
        for (int i = 0; i < 16; i++) {
            civq.desc(i, CBUF + 0x400L * i, 512, VIRTQ_DESC_F_WRITE, 0);
            civq.publish(i);
        }
        drv.kick(VirtioConsole.CONTROL_RX);
        int n = 0;
        for (long[] m : new long[][] {{VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY}, {0, VIRTIO_CONSOLE_PORT_READY},
            {1, VIRTIO_CONSOLE_PORT_READY}, {2, VIRTIO_CONSOLE_PORT_READY}}) {
            long at = CBUF + 0x5000 + 16L * n;
            mem.putInt(at, (int) m[0]);
            mem.putShort(at + 4, (int) m[1]);
            mem.putShort(at + 6, 1);
            covq.desc(n, at, 8, 0, 0);
            covq.publish(n);
            n++;
        }
        drv.kick(VirtioConsole.CONTROL_TX);
        // PORT_ADD x3, CONSOLE_PORT 0, PORT_NAME 1, PORT_OPEN 1 (the client is there), PORT_NAME 2
        assertFalse(await(() -> civq.usedIdx() == 7), "a good driver after reset got NEEDS_RESET");
        Map<Integer, long[]> buffers = new HashMap<>();
        for (int i = 0; i < 16; i++) {
            buffers.put(i, new long[] {CBUF + 0x400L * i, 512});
        }
        checkControlMessages(buffers);
        drv.write(CommonCfg.DEVICE_STATUS, 1, 0);
    }
}

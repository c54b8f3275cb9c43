package dev.jvmm.virtio.console;

import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.console.VirtioConsoleLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.console.ConsoleDriver.Message;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-console through its real virtio-pci transport, a simulated Linux driver ({@link ConsoleDriver}) on one side
 * and unix-socket clients on the other: bytes both ways on a single console port and on named ports, the MULTIPORT
 * control handshake (PORT_ADD, CONSOLE_PORT, PORT_NAME, PORT_OPEN both ways), output dropped without a client,
 * backpressure from a client that does not read (the byte stream stays whole across a quiesce that gives the held chain
 * back), bad control messages ignored, and the saved state.
 */
class VirtioConsoleTest {
    static final long FEATURES = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX
            | 1L << VIRTIO_RING_F_INDIRECT_DESC | 1L << VIRTIO_CONSOLE_F_MULTIPORT;
    static final long RINGS = 0x10000;

    @TempDir Path tmp;
    final Deque<AutoCloseable> cleanup = new ArrayDeque<>();

    @AfterEach
    void tearDown() throws Exception {
        while (!cleanup.isEmpty()) {
            cleanup.pop().close();
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

    <T extends AutoCloseable> T own(T t) {
        cleanup.push(t);
        return t;
    }

    /** A console device on {@code mem} with its transport; {@code drv} once negotiated. */
    final class Side {
        final GuestMemory mem;
        final TestIrqs irqs = own(new TestIrqs());
        final VirtioConsole con;
        final VirtioPciDevice dev;
        ConsoleDriver drv;

        Side(GuestMemory mem, PortEnd console, VirtioConsole.NamedPort... named) {
            this.mem = mem;
            con = new VirtioConsole("virtio-console-0", console, List.of(named));
            dev = own(new VirtioPciDevice(con, mem, irqs, null, -1));
        }

        Side negotiated(long features) {
            PciTestDriver p = new PciTestDriver(dev, mem, RINGS);
            assertNotEquals(0, p.init(features, con.queueCount(), ConsoleDriver.QSIZE) & VIRTIO_CONFIG_S_DRIVER_OK);
            drv = new ConsoleDriver(p, mem);
            return this;
        }

        /** A driver continuing the restored rings (its avail indexes from guest RAM). */
        void driverContinuing() {
            PciTestDriver p = new PciTestDriver(dev, mem, RINGS);
            for (int q = 0; q < con.queueCount(); q++) {
                TestDriver t = new TestDriver(mem, ConsoleDriver.QSIZE, RINGS + 0x10000L * q);
                t.setAvailIdx(mem.getShort(t.avail + 2) & 0xffff);
                p.rings.add(t);
            }
            drv = new ConsoleDriver(p, mem);
        }

        byte[] save() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            dev.saveState(new DataOutputStream(b));
            return b.toByteArray();
        }

        void restore(byte[] state) throws IOException {
            dev.restoreState(new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(state)),
                    "virtio-console-0"));
        }

        /** DEVICE_READY and each added port's PORT_READY; returns the {@code ports} PORT_ADDs it was answered with. */
        List<Message> handshake(int ports) {
            drv.controlBuffers(32);
            drv.control(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
            List<Message> adds = drv.awaitMessages(ports);
            for (Message m : adds) {
                drv.control(m.id(), VIRTIO_CONSOLE_PORT_READY, 1);
            }
            return adds;
        }

        int status() {
            return (int) dev.bar0().read(CommonCfg.DEVICE_STATUS, 1);
        }
    }

    /** A client of the socket at {@code path} (connected once the device listens; closed with the test). */
    SocketChannel client(Path path) throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        c.connect(UnixDomainSocketAddress.of(path));
        return own(c);
    }

    static byte[] readExactly(SocketChannel c, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (c.read(b) < 0) {
                break;
            }
        }
        return Arrays.copyOf(b.array(), b.position());
    }

    static void write(SocketChannel c, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    PortEnd socketEnd(String name) {
        return own(PortEnd.socket(tmp.resolve(name)));
    }

    // ---- one console port, no MULTIPORT ----

    @Test
    void aSingleConsolePortCarriesBytesBothWaysThroughItsSocket() throws Exception {
        PortEnd end = socketEnd("hvc0.sock");
        Side s = new Side(ram(), end).negotiated(FEATURES);
        assertEquals(0, s.dev.driverFeatures() & 1L << VIRTIO_CONSOLE_F_MULTIPORT, "no named ports: no MULTIPORT");
        assertEquals(2, s.con.queueCount());
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(tmp.resolve("hvc0.sock"))));

        // guest output while nobody listens is dropped
        s.drv.transmit(1, bytes("lost\n"), 1);
        assertTrue(s.drv.pci.awaitUsed(1, 1));
        assertEquals(5, s.con.dropped(0));

        SocketChannel c = client(tmp.resolve("hvc0.sock"));
        assertTrue(ConsoleDriver.await(end::connected), "the device accepted the client");
        long[] rx = s.drv.receiveBuffers(0, 4, 64);
        write(c, bytes("echo hello from the host\n"));
        assertTrue(ConsoleDriver.await(() -> s.con.bytesToGuest(0) == 25));
        assertEquals("echo hello from the host\n", new String(s.drv.received(0, 0, rx), StandardCharsets.UTF_8));

        byte[] out = bytes("hello from the guest, in three descriptors\n");
        s.drv.transmit(1, out, 3);
        assertArrayEquals(out, readExactly(c, out.length));
        assertTrue(s.drv.pci.awaitUsed(1, 2));
        assertEquals(out.length, s.con.bytesFromGuest(0));
        assertEquals(0, s.dev.guestErrors());

        // the client leaves; the next one is taken and gets the next output
        c.close();
        SocketChannel c2 = client(tmp.resolve("hvc0.sock"));
        assertTrue(ConsoleDriver.await(() -> end.clients() == 2), "the second client was accepted");
        s.drv.transmit(1, bytes("again\n"), 1);
        assertArrayEquals(bytes("again\n"), readExactly(c2, 6));
    }

    /** A driver that kicks only when the device asked (EVENT_IDX avail_event), one chain at a time, both ways. */
    @Test
    void aDriverThatKicksOnlyWhenAskedIsServedChainAfterChain() throws Exception {
        PortEnd end = socketEnd("hvc0.sock");
        Side s = new Side(ram(), end).negotiated(FEATURES);
        SocketChannel c = client(tmp.resolve("hvc0.sock"));
        assertTrue(ConsoleDriver.await(end::connected));
        for (int i = 0; i < 20; i++) {
            for (int q : new int[] {0, 1}) {
                TestDriver r = s.drv.ring(q);
                int before = s.mem.getShort(r.avail + 2) & 0xffff;
                long b = s.drv.buffer(q, 16);
                s.mem.write(b, bytes(String.format("chain %02d  out  \n", i)));
                s.drv.chain(q, new long[] {b, 16, q == 0 ? 1 : 0});
                // as Linux's virtqueue_kick_prepare: the avail index published, a full barrier, then avail_event
                java.lang.invoke.VarHandle.fullFence();
                int old = r.availEvent();
                int now = (before + 1) & 0xffff;
                if (((now - old - 1) & 0xffff) < ((now - before) & 0xffff)) { // vring_need_event
                    s.drv.pci.kick(q);
                }
            }
            write(c, bytes(String.format("chain %02d  in   \n", i)));
            assertArrayEquals(bytes(String.format("chain %02d  out  \n", i)), readExactly(c, 16), "transmit " + i);
            int n = i + 1;
            assertTrue(s.drv.pci.awaitUsed(0, n), "receive " + n);
        }
        assertEquals(20 * 16, s.con.bytesToGuest(0));
    }

    @Test
    void inputLargerThanTheGuestsBuffersWaitsInTheSocketUntilItGivesMore() throws Exception {
        PortEnd end = socketEnd("hvc0.sock");
        Side s = new Side(ram(), end).negotiated(FEATURES);
        SocketChannel c = client(tmp.resolve("hvc0.sock"));
        assertTrue(ConsoleDriver.await(end::connected));
        byte[] data = new byte[10_000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31 + 7);
        }
        write(c, data);
        long[] rx = s.drv.receiveBuffers(0, 2, 1000);
        assertTrue(ConsoleDriver.await(() -> s.con.bytesToGuest(0) == 2000), "two buffers filled");
        long[] more = s.drv.receiveBuffers(0, 8, 1000);
        for (int i = 0; i < more.length; i++) {
            if (more[i] != 0) {
                rx[i] = more[i];
            }
        }
        assertTrue(ConsoleDriver.await(() -> s.con.bytesToGuest(0) == 10_000), "the rest once there were buffers");
        assertArrayEquals(data, s.drv.received(0, 0, rx));
    }

    // ---- MULTIPORT ----

    @Test
    void theMultiportHandshakeAnnouncesEachPortItsNameAndTheConsole() throws Exception {
        PortEnd hvc = socketEnd("hvc0.sock");
        PortEnd p1 = socketEnd("p1.sock"), p2 = socketEnd("p2.sock");
        Side s = new Side(ram(), hvc, new VirtioConsole.NamedPort("org.example.0", p1),
                new VirtioConsole.NamedPort("org.example.1", p2)).negotiated(FEATURES);
        assertNotEquals(0, s.dev.driverFeatures() & 1L << VIRTIO_CONSOLE_F_MULTIPORT);
        assertEquals(8, s.con.queueCount(), "(3 ports + control) x 2 queues");
        assertEquals(3, s.dev.bar0().read(VirtioPciDevice.DEVICE_OFFSET + VirtioConsoleLayout.Config.MAX_NR_PORTS, 4));

        s.drv.controlBuffers(32);
        s.drv.control(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        List<Message> adds = s.drv.awaitMessages(3);
        assertEquals(List.of(new Message(0, VIRTIO_CONSOLE_PORT_ADD, 1, null),
                new Message(1, VIRTIO_CONSOLE_PORT_ADD, 1, null), new Message(2, VIRTIO_CONSOLE_PORT_ADD, 1, null)), adds);

        SocketChannel c1 = client(tmp.resolve("p1.sock")); // a client on port 1 before the guest has it
        assertTrue(ConsoleDriver.await(p1::connected));
        for (int id = 0; id < 3; id++) {
            s.drv.control(id, VIRTIO_CONSOLE_PORT_READY, 1);
        }
        List<Message> ready = s.drv.awaitMessages(4);
        assertEquals(List.of(new Message(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, null),
                new Message(1, VIRTIO_CONSOLE_PORT_NAME, 1, "org.example.0"),
                new Message(1, VIRTIO_CONSOLE_PORT_OPEN, 1, null),
                new Message(2, VIRTIO_CONSOLE_PORT_NAME, 1, "org.example.1")), ready);

        // a client on port 2 is announced as it comes and goes
        SocketChannel c2 = client(tmp.resolve("p2.sock"));
        assertEquals(List.of(new Message(2, VIRTIO_CONSOLE_PORT_OPEN, 1, null)), s.drv.awaitMessages(1));

        // port 1: data both ways once the guest opened it (its input waited in the socket until then)
        write(c1, bytes("to port 1\n"));
        int rxq = VirtioConsole.rxQueue(1), txq = VirtioConsole.txQueue(1);
        assertEquals(4, rxq);
        long[] rx = s.drv.receiveBuffers(rxq, 4, 128);
        Thread.sleep(50); // (not a timing assertion: the count below holds however long one waits)
        assertEquals(0, s.con.bytesToGuest(1), "nothing is read for a port the guest has not opened");
        s.drv.control(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        assertTrue(ConsoleDriver.await(() -> s.con.bytesToGuest(1) == 10));
        assertTrue(s.con.guestOpen(1));
        assertEquals("to port 1\n", new String(s.drv.received(rxq, 0, rx), StandardCharsets.UTF_8));
        s.drv.transmit(txq, bytes("from port 1\n"), 2);
        assertArrayEquals(bytes("from port 1\n"), readExactly(c1, 12));

        // port 2's and the console's bytes do not mix with port 1's
        s.drv.control(2, VIRTIO_CONSOLE_PORT_OPEN, 1);
        s.drv.transmit(VirtioConsole.txQueue(2), bytes("two"), 1);
        assertArrayEquals(bytes("two"), readExactly(c2, 3));
        SocketChannel h = client(tmp.resolve("hvc0.sock"));
        assertEquals(List.of(new Message(0, VIRTIO_CONSOLE_PORT_OPEN, 1, null)), s.drv.awaitMessages(1));
        s.drv.transmit(1, bytes("console"), 1);
        assertArrayEquals(bytes("console"), readExactly(h, 7));
        // (a client may read the bytes before the device counts them: the counts are awaited)
        assertTrue(ConsoleDriver.await(() -> s.con.bytesFromGuest(1) == 12 && s.con.bytesFromGuest(2) == 3
                && s.con.bytesFromGuest(0) == 7), () -> s.con.bytesFromGuest(1) + " " + s.con.bytesFromGuest(2) + " "
                + s.con.bytesFromGuest(0));

        c2.close();
        assertEquals(List.of(new Message(2, VIRTIO_CONSOLE_PORT_OPEN, 0, null)), s.drv.awaitMessages(1));
        assertEquals(0, s.dev.guestErrors());
        assertEquals(0, s.con.badControl());
        assertEquals((s.status() & VIRTIO_CONFIG_S_NEEDS_RESET), 0);
    }

    @Test
    void namedPortsWithoutAConsolePortAddOnlyThem() {
        Side s = new Side(ram(), null, new VirtioConsole.NamedPort("org.example.agent", PortEnd.none()))
                .negotiated(FEATURES);
        s.drv.controlBuffers(8);
        s.drv.control(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        assertEquals(List.of(new Message(1, VIRTIO_CONSOLE_PORT_ADD, 1, null)), s.drv.awaitMessages(1));
        s.drv.control(1, VIRTIO_CONSOLE_PORT_READY, 1);
        assertEquals(List.of(new Message(1, VIRTIO_CONSOLE_PORT_NAME, 1, "org.example.agent")), s.drv.awaitMessages(1));
        s.drv.control(0, VIRTIO_CONSOLE_PORT_READY, 1); // port 0 was never added
        assertEquals(1, s.con.badControl());
    }

    @Test
    void aDriverWithoutMultiportGetsPort0AsAConsoleEvenWhenTheDeviceHasNone() {
        Side s = new Side(ram(), null, new VirtioConsole.NamedPort("org.example.agent", PortEnd.none()))
                .negotiated(FEATURES & ~(1L << VIRTIO_CONSOLE_F_MULTIPORT));
        assertEquals(0, s.dev.driverFeatures() & 1L << VIRTIO_CONSOLE_F_MULTIPORT);
        s.drv.transmit(1, bytes("hvc0 output nobody takes\n"), 1);
        assertTrue(s.drv.pci.awaitUsed(1, 1), "the buffer comes back (hvc waits for it), its bytes dropped");
        assertEquals(25, s.con.dropped(0));
    }

    @Test
    void badControlMessagesAreIgnoredAndTheDeviceGoesOn() throws Exception {
        Side s = new Side(ram(), PortEnd.none(), new VirtioConsole.NamedPort("org.example.0", PortEnd.none()))
                .negotiated(FEATURES);
        s.drv.controlBuffers(16);
        s.drv.controlRaw(new byte[] {1, 2, 3, 4}, false); // short
        byte[] ready = new byte[8];
        ConsoleDriver.le(ready, 0, VIRTIO_CONSOLE_BAD_ID, 4);
        s.drv.controlRaw(ready, true); // device-writable
        s.drv.control(0, 99, 1); // unknown event, port not added yet
        s.drv.control(7, VIRTIO_CONSOLE_PORT_READY, 1); // no such port
        s.drv.control(0xffff_ffffL, VIRTIO_CONSOLE_PORT_OPEN, 1);
        s.drv.control(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 0); // the driver's failure: logged
        assertEquals(5, s.con.badControl());
        assertEquals(List.of(), s.drv.messages(), "nothing answered them");
        s.drv.control(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        assertEquals(2, s.drv.awaitMessages(2).size());
        s.drv.control(1, VIRTIO_CONSOLE_PORT_ADD, 1); // the device's event, from the driver
        s.drv.control(1, VIRTIO_CONSOLE_RESIZE, 1);
        s.drv.control(1, VIRTIO_CONSOLE_PORT_READY, 1);
        assertEquals(List.of(new Message(1, VIRTIO_CONSOLE_PORT_NAME, 1, "org.example.0")), s.drv.awaitMessages(1));
        assertEquals(7, s.con.badControl());
        assertEquals(0, s.dev.guestErrors());
        assertEquals(0, s.status() & VIRTIO_CONFIG_S_NEEDS_RESET);
        assertTrue(s.con.threadAlive());
    }

    @Test
    void aControlBufferTooSmallForAMessageIsAProtocolErrorNotACrash() {
        Side s = new Side(ram(), PortEnd.none(), new VirtioConsole.NamedPort("org.example.0", PortEnd.none()))
                .negotiated(FEATURES);
        s.drv.chain(VirtioConsole.CONTROL_RX, new long[] {s.drv.buffer(VirtioConsole.CONTROL_RX, 4), 4, 1});
        s.drv.pci.kick(VirtioConsole.CONTROL_RX);
        s.drv.control(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        assertTrue(ConsoleDriver.await(() -> (s.status() & VIRTIO_CONFIG_S_NEEDS_RESET) != 0), "NEEDS_RESET");
        assertEquals(1, s.dev.guestErrors());
        assertEquals(0, s.drv.ring(VirtioConsole.CONTROL_RX).usedIdx(), "the small buffer was not used");
        assertTrue(s.con.threadAlive(), "the thread waits for the reset");
        // after a reset the device works again
        s.drv.pci.write(CommonCfg.DEVICE_STATUS, 1, 0);
        s.negotiated(FEATURES);
        s.drv.controlBuffers(4);
        s.drv.control(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
        assertEquals(2, s.drv.awaitMessages(2).size());
        assertEquals(0, s.status() & VIRTIO_CONFIG_S_NEEDS_RESET);
    }

    // ---- flow ----

    @Test
    void aClientThatDoesNotReadHoldsTheGuestAndLosesNoByteAcrossAQuiesce() throws Exception {
        PortEnd end = socketEnd("hvc0.sock");
        Side s = new Side(ram(), end).negotiated(FEATURES);
        SocketChannel c = client(tmp.resolve("hvc0.sock"));
        assertTrue(ConsoleDriver.await(end::connected));
        int chunk = 50_000, chains = 20; // (1 MB: the driver's buffer area for the queue)
        byte[] all = new byte[chunk * chains];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) (i ^ i >>> 8 ^ i >>> 16);
        }
        for (int i = 0; i < chains; i++) {
            s.drv.transmit(1, Arrays.copyOfRange(all, i * chunk, (i + 1) * chunk), 1 + i % 3);
        }
        // the socket's buffer holds far less than 1 MB: the device stops on a chain it has sent (at most) in part
        assertTrue(ConsoleDriver.await(() -> s.con.holds(0) > 0), "a chain waits for the client");
        long sent = s.con.bytesFromGuest(0);
        assertTrue(sent < all.length, "held back: " + sent);
        s.dev.quiesce(); // gives the held chain back to the ring, remembering what of it went
        byte[] state = s.save();
        s.dev.unquiesce();
        assertArrayEquals(all, readExactly(c, all.length), "every byte, once, in order");
        assertTrue(s.drv.pci.awaitUsed(1, chains));
        assertEquals(all.length, s.con.bytesFromGuest(0));
        assertEquals(0, s.con.dropped(0));
        assertTrue(state.length > 0);
    }

    // ---- saved state ----

    @Test
    void theSavedStateKeepsTheHandshakeAndTheNewHostEndIsAnnounced() throws Exception {
        PortEnd p1 = socketEnd("p1.sock");
        Side a = new Side(ram(), PortEnd.none(), new VirtioConsole.NamedPort("org.example.0", p1)).negotiated(FEATURES);
        SocketChannel c1 = client(tmp.resolve("p1.sock"));
        assertTrue(ConsoleDriver.await(p1::connected));
        List<Message> hs = a.handshake(2);
        assertEquals(2, hs.size());
        assertEquals(List.of(new Message(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, null),
                new Message(1, VIRTIO_CONSOLE_PORT_NAME, 1, "org.example.0"),
                new Message(1, VIRTIO_CONSOLE_PORT_OPEN, 1, null)), a.drv.awaitMessages(3));
        a.drv.control(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
        int ctrlUsed = a.drv.ring(VirtioConsole.CONTROL_RX).usedIdx();

        a.dev.quiesce();
        byte[] state = a.save();

        // another process: other sockets, no client yet
        PortEnd q1 = socketEnd("q1.sock");
        Side b = new Side(copyOf(a.mem), PortEnd.none(), new VirtioConsole.NamedPort("org.example.0", q1));
        b.restore(state);
        assertTrue(b.con.guestOpen(1));
        b.dev.unquiesce();
        b.driverContinuing();
        // the driver was told a client is there; there is none here: PORT_OPEN 0 (in the buffers it had left)
        b.drv.skipMessagesTo(ctrlUsed);
        assertEquals(List.of(new Message(1, VIRTIO_CONSOLE_PORT_OPEN, 0, null)), b.drv.awaitMessages(1));
        SocketChannel d1 = client(tmp.resolve("q1.sock"));
        assertEquals(List.of(new Message(1, VIRTIO_CONSOLE_PORT_OPEN, 1, null)), b.drv.awaitMessages(1));
        b.drv.transmit(VirtioConsole.txQueue(1), bytes("after the restore"), 1);
        assertArrayEquals(bytes("after the restore"), readExactly(d1, 17));
        b.dev.quiesce();
        byte[] again = b.save();
        b.dev.unquiesce();
        assertTrue(again.length > 0);

        // a state for another port count is refused by name
        Side other = new Side(copyOf(a.mem), PortEnd.none());
        StateFormatException e = assertThrows(StateFormatException.class, () -> other.restore(state));
        assertTrue(e.getMessage().startsWith("virtio-console-0"), e.getMessage());
        c1.close();
    }
}

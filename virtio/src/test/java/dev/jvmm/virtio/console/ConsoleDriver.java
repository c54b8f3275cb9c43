package dev.jvmm.virtio.console;

import static dev.jvmm.virtio.VirtQueue.VIRTQ_DESC_F_NEXT;
import static dev.jvmm.virtio.VirtQueue.VIRTQ_DESC_F_WRITE;
import static dev.jvmm.virtio.console.VirtioConsoleLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.pci.PciTestDriver;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * What the Linux virtio_console driver does, for the tests: buffers on a port's receiveq and on c_ivq, chains on a
 * transmitq, control messages on c_ovq, and the control messages the device put in c_ivq's buffers, read back in
 * order. Each queue's descriptors are handed out in turn ({@code size} of them, then from the start again: the tests
 * never have more than that in flight).
 */
final class ConsoleDriver {
    static final int QSIZE = 128;
    /** Guest RAM the driver's buffers come from, one region per queue. */
    static final long BUFFERS = 0x200000, PER_QUEUE = 0x100000;
    static final int CTRL_BUF = 512;

    final PciTestDriver pci;
    final GuestMemory mem;
    private final int[] nextDesc = new int[64];
    private final long[] nextBuf = new long[64];
    private int controlRead;

    /** A control message the device sent: the port, the event, the value and (PORT_NAME) the name. */
    record Message(long id, int event, int value, String name) {
        @Override
        public String toString() {
            return EVENTS.get(event) + "(" + id + ", " + value + (name == null ? "" : ", \"" + name + "\"") + ")";
        }
    }

    static final List<String> EVENTS = List.of("DEVICE_READY", "PORT_ADD", "PORT_REMOVE", "PORT_READY", "CONSOLE_PORT",
            "RESIZE", "PORT_OPEN", "PORT_NAME");

    ConsoleDriver(PciTestDriver pci, GuestMemory mem) {
        this.pci = pci;
        this.mem = mem;
    }

    TestDriver ring(int q) {
        return pci.rings.get(q);
    }

    /** Guest memory for a buffer of {@code len} bytes on queue {@code q} (each queue's own 1 MiB, round robin). */
    long buffer(int q, int len) {
        long off = nextBuf[q];
        if (off + len > PER_QUEUE) {
            off = 0;
        }
        nextBuf[q] = (off + len + 63) & ~63L;
        return BUFFERS + PER_QUEUE * q + off;
    }

    /** Makes a chain of the given segments ({addr, len, writable}) available on queue {@code q}; returns its head. */
    int chain(int q, long[]... segs) {
        TestDriver r = ring(q);
        int head = nextDesc[q];
        for (int i = 0; i < segs.length; i++) {
            int d = (head + i) % QSIZE;
            boolean last = i == segs.length - 1;
            r.desc(d, segs[i][0], (int) segs[i][1], (segs[i][2] != 0 ? VIRTQ_DESC_F_WRITE : 0)
                    | (last ? 0 : VIRTQ_DESC_F_NEXT), (d + 1) % QSIZE);
        }
        nextDesc[q] = (head + segs.length) % QSIZE;
        r.publish(head);
        return head;
    }

    /** {@code n} receive buffers of {@code len} bytes on queue {@code q}, kicked. Returns their addresses by head. */
    long[] receiveBuffers(int q, int n, int len) {
        long[] at = new long[QSIZE];
        for (int i = 0; i < n; i++) {
            long b = buffer(q, len);
            at[chain(q, new long[] {b, len, 1})] = b;
        }
        pci.kick(q);
        return at;
    }

    /** Sends {@code data} on transmitq {@code q} as one chain of up to {@code segs} descriptors, kicked. */
    void transmit(int q, byte[] data, int segs) {
        long b = buffer(q, data.length);
        mem.write(b, data);
        List<long[]> parts = new ArrayList<>();
        int per = Math.max(1, (data.length + segs - 1) / segs);
        for (int off = 0; off < data.length; off += per) {
            parts.add(new long[] {b + off, Math.min(per, data.length - off), 0});
        }
        chain(q, parts.toArray(new long[0][]));
        pci.kick(q);
    }

    /** Sends a control message on c_ovq and waits until the device took it. */
    void control(long id, int event, int value) {
        byte[] m = new byte[8];
        le(m, 0, id, 4);
        le(m, 4, event, 2);
        le(m, 6, value, 2);
        controlRaw(m, false);
    }

    /** Sends {@code bytes} on c_ovq (device-writable when asked: a bad message) and waits until the device took it. */
    void controlRaw(byte[] bytes, boolean writable) {
        int q = VirtioConsole.CONTROL_TX;
        long b = buffer(q, Math.max(1, bytes.length));
        mem.write(b, bytes);
        int before = ring(q).usedIdx();
        chain(q, new long[] {b, Math.max(1, bytes.length), writable ? 1 : 0});
        pci.kick(q);
        assertTrue(pci.awaitUsed(q, (before + 1) & 0xffff), "the device took the control message");
    }

    static void le(byte[] b, int at, long v, int size) {
        for (int i = 0; i < size; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    /** {@code n} control receive buffers (c_ivq), kicked. */
    void controlBuffers(int n) {
        receiveBuffers(VirtioConsole.CONTROL_RX, n, CTRL_BUF);
    }

    /** The control messages the device delivered since the last call (c_ivq's used ring, in order). */
    List<Message> messages() {
        TestDriver r = ring(VirtioConsole.CONTROL_RX);
        List<Message> out = new ArrayList<>();
        while (controlRead != r.usedIdx()) {
            int slot = controlRead;
            controlRead = (controlRead + 1) & 0xffff;
            int head = r.usedId(slot);
            int len = r.usedLen(slot);
            long at = mem.getLong(r.desc + 16L * head);
            assertTrue(len >= 8 && len <= CTRL_BUF, "control message length " + len);
            long id = mem.getInt(at) & 0xffff_ffffL;
            int event = mem.getShort(at + 4) & 0xffff;
            int value = mem.getShort(at + 6) & 0xffff;
            String name = null;
            if (event == VIRTIO_CONSOLE_PORT_NAME) {
                byte[] n = new byte[len - 8];
                mem.read(at + 8, n, 0, n.length);
                assertEquals(0, n[n.length - 1], "the name ends in a NUL");
                name = new String(n, 0, n.length - 1, StandardCharsets.UTF_8);
            }
            out.add(new Message(id, event, value, name));
        }
        return out;
    }

    /** Reads the control messages from used slot {@code usedIdx} on (a driver continuing a restored ring). */
    void skipMessagesTo(int usedIdx) {
        controlRead = usedIdx;
    }

    /** Waits (up to 30 s) until {@code count} more control messages were delivered; returns them. */
    List<Message> awaitMessages(int count) {
        List<Message> got = new ArrayList<>();
        assertTrue(await(() -> {
            got.addAll(messages());
            return got.size() >= count;
        }), () -> "expected " + count + " control messages, got " + got);
        return got;
    }

    /** The bytes of the used receive buffers of queue {@code q} from used slot {@code from} to the used index. */
    byte[] received(int q, int from, long[] bufferAt) {
        TestDriver r = ring(q);
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        for (int s = from; s != r.usedIdx(); s = (s + 1) & 0xffff) {
            byte[] part = new byte[r.usedLen(s)];
            mem.read(bufferAt[r.usedId(s)], part, 0, part.length);
            b.write(part, 0, part.length);
        }
        return b.toByteArray();
    }

    static boolean await(BooleanSupplier done) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (done.getAsBoolean()) {
                return true;
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return done.getAsBoolean();
    }
}

package dev.jvmm.virtio.console;

import static dev.jvmm.virtio.console.VirtioConsoleLayout.Constants.*;

import dev.jvmm.sys.Epoll;
import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.UnixSocket;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.uapi.MsgHdr;
import dev.jvmm.virtio.DescriptorChain;
import dev.jvmm.virtio.DeviceWorker;
import dev.jvmm.virtio.GuestProtocolException;
import dev.jvmm.virtio.Iovecs;
import dev.jvmm.virtio.VirtQueue;
import dev.jvmm.virtio.VirtioDevice;
import dev.jvmm.virtio.console.VirtioConsoleLayout.Config;
import dev.jvmm.virtio.console.VirtioConsoleLayout.Control;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * virtio-console (virtio 1.2 §5.3): port 0 is a console (the guest's {@code hvc0}), and with
 * VIRTIO_CONSOLE_F_MULTIPORT more ports carry a name ({@code /sys/class/virtio-ports/vportNpM/name} in a Linux guest,
 * {@code /dev/virtio-ports/NAME} where udev makes the link). Each port's bytes go both ways between its queues and
 * its {@link PortEnd} (a unix socket, jvmm's stdio, a file), straight between guest RAM and the end's fd.
 *
 * <p>Queues, with MULTIPORT: port 0's receiveq and transmitq (0, 1), the control receiveq and transmitq (2, 3: c_ivq
 * and c_ovq), then port N's at 2N+2 and 2N+3. Without MULTIPORT (the device offers it only when it has named ports, or
 * a driver does not take it) queues 0 and 1 of port 0 only, and port 0 is a console.
 *
 * <p>The control handshake (§5.3.6.2, as QEMU's virtio-serial): the driver's DEVICE_READY is answered with a
 * PORT_ADD per port; a port's PORT_READY with CONSOLE_PORT (port 0 when it is the console), PORT_NAME (the name and a
 * NUL) and PORT_OPEN 1 when a client is at the host end. PORT_OPEN goes to the guest again whenever a socket end's
 * client comes or goes; the guest's PORT_OPEN says whether a program has the port open, and a named port is read from
 * its end only while one has (a console port always). Control messages wait in the device (bounded) until the driver
 * gives c_ivq buffers. A control message the driver gets wrong (short, device-writable, an unknown event or port) is
 * counted, logged and ignored; a buffer that breaks the ring's rules is a protocol error (NEEDS_RESET), as elsewhere.
 *
 * <p>Flow: the guest's output is written to the end as it comes; when no client is connected (or the end has no
 * output) it is dropped and counted ({@link #dropped}), never buffered. A client that reads slower than the guest
 * writes holds the port's transmitq: the chain being sent waits for the socket to drain (EPOLLOUT), so the guest's
 * writes block, as with QEMU's chardev backpressure. Input is read into the receiveq's buffers while the guest has
 * some, and stays in the socket otherwise.
 *
 * <p>One thread serves every queue and end of the device ({@code virtio-console-0}); a console carries little.
 */
public final class VirtioConsole extends VirtioDevice {
    private static final Logger log = LoggerFactory.getLogger(VirtioConsole.class);
    /** Virtio device ID of a console. */
    public static final int DEVICE_TYPE = 3;
    public static final int QUEUE_SIZE = 128;
    /** The most ports (ids 0..31), as QEMU's default {@code max_ports} of a virtio-serial bus. */
    public static final int MAX_PORTS = 32;
    /** The longest port name in UTF-8 bytes. */
    public static final int MAX_NAME_BYTES = 255;
    /** Control messages that may wait for c_ivq buffers; more are dropped and counted. */
    static final int MAX_PENDING_CONTROL = 1024;
    /** The control queues' indexes (with MULTIPORT). */
    public static final int CONTROL_RX = 2, CONTROL_TX = 3;
    private static final int RX_BATCH = 64;
    private static final long TOKEN_LISTEN = 0x1000, TOKEN_IN = 0x2000, TOKEN_OUT = 0x3000;

    /** A named port and its host end. */
    public record NamedPort(String name, PortEnd end) {
    }

    /** One port: its configuration, what the driver knows of it (saved), and what the device thread does with it. */
    private static final class Port {
        final int id;
        final String name;
        final boolean console;
        final boolean present;
        final PortEnd end;
        // what the driver was told and said (saved)
        boolean added, ready, guestOpen, toldOpen;
        /** Bytes of the transmitq's next chain already sent (a chain held when the device stopped goes back). */
        long txSkip;
        // device thread
        boolean txHeld;
        DescriptorChain held;
        boolean rxStarved;
        Fd regIn, regOut;
        int regInMask, regOutMask;
        boolean listening;
        final AtomicLong toGuest = new AtomicLong(), fromGuest = new AtomicLong(), dropped = new AtomicLong(),
                holds = new AtomicLong();

        Port(int id, String name, boolean console, boolean present, PortEnd end) {
            this.id = id;
            this.name = name;
            this.console = console;
            this.present = present;
            this.end = end;
        }

        void forgetGuest() {
            added = ready = guestOpen = toldOpen = false;
            txSkip = 0;
            txHeld = false;
            held = null;
            rxStarved = false;
        }
    }

    private final Port[] ports;
    private final boolean multiport;
    private final ArrayDeque<byte[]> pendingControl = new ArrayDeque<>();
    private Worker worker;
    private volatile boolean closed;
    private final AtomicLong badControl = new AtomicLong(), controlSent = new AtomicLong(),
            controlDropped = new AtomicLong();

    /**
     * A console device: {@code console} is port 0's end (null: no console port, port 0 is not added), {@code named}
     * the named ports, ids 1 and up in this order (MULTIPORT is offered when there is at least one).
     */
    public VirtioConsole(String name, PortEnd console, List<NamedPort> named) {
        super(name, Config.SIZE);
        if (console == null && named.isEmpty()) {
            throw new IllegalArgumentException(name + ": neither a console port nor a named port");
        }
        if (named.size() + 1 > MAX_PORTS) {
            throw new IllegalArgumentException(name + ": " + named.size() + " named ports (at most " + (MAX_PORTS - 1) + ")");
        }
        ports = new Port[named.size() + 1];
        ports[0] = new Port(0, null, true, console != null, console != null ? console : PortEnd.none());
        java.util.Set<String> names = new java.util.HashSet<>();
        for (int i = 0; i < named.size(); i++) {
            String n = named.get(i).name();
            byte[] b = n.getBytes(StandardCharsets.UTF_8);
            if (b.length == 0 || b.length > MAX_NAME_BYTES || n.indexOf('\0') >= 0 || !names.add(n)) {
                throw new IllegalArgumentException(name + ": port name \"" + n + "\" is empty, too long, has a NUL or "
                        + "is given twice");
            }
            ports[i + 1] = new Port(i + 1, n, false, true, named.get(i).end());
        }
        multiport = !named.isEmpty();
        setConfig(Config.MAX_NR_PORTS, 4, ports.length);
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public int pciClass() {
        return 0x078000; // simple communication controller, other (QEMU's virtio-serial-pci)
    }

    @Override
    public long deviceFeatures() {
        return multiport ? 1L << VIRTIO_CONSOLE_F_MULTIPORT : 0;
    }

    @Override
    public int queueCount() {
        return multiport ? 2 * (ports.length + 1) : 2;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int maxSegments(int queue) {
        return QUEUE_SIZE;
    }

    /** Port {@code id}'s receiveq (host to guest). */
    public static int rxQueue(int id) {
        return id == 0 ? 0 : 2 * id + 2;
    }

    /** Port {@code id}'s transmitq (guest to host). */
    public static int txQueue(int id) {
        return rxQueue(id) + 1;
    }

    /** The port of data queue {@code q} (not a control queue). */
    static int portOf(int q) {
        return q < 2 ? 0 : (q - 2) / 2;
    }

    /** How many ports the device has (the console's id 0 included, whether or not it is added). */
    public int ports() {
        return ports.length;
    }

    /** Port {@code id}'s name (null: the console port). */
    public String portName(int id) {
        return ports[id].name;
    }

    public PortEnd end(int id) {
        return ports[id].end;
    }

    /** Bytes port {@code id} took from its end into the guest. */
    public long bytesToGuest(int id) {
        return ports[id].toGuest.get();
    }

    /** Bytes of the guest's output port {@code id} wrote to its end. */
    public long bytesFromGuest(int id) {
        return ports[id].fromGuest.get();
    }

    /** Bytes of the guest's output port {@code id} dropped: no client, no output, or the client left mid-write. */
    public long dropped(int id) {
        return ports[id].dropped.get();
    }

    /** Times port {@code id}'s end could not take a whole transmit chain, which then waited for it. */
    public long holds(int id) {
        return ports[id].holds.get();
    }

    /** Whether the driver opened port {@code id} (its PORT_OPEN 1), as last said. */
    public boolean guestOpen(int id) {
        return ports[id].guestOpen;
    }

    /** Control messages from the driver that were ignored as wrong. */
    public long badControl() {
        return badControl.get();
    }

    /** Control messages delivered to the driver. */
    public long controlSent() {
        return controlSent.get();
    }

    /** Control messages dropped because too many waited for c_ivq buffers. */
    public long controlDropped() {
        return controlDropped.get();
    }

    public synchronized boolean threadAlive() {
        return worker != null && worker.thread.isAlive();
    }

    @Override
    protected void startWorkers(Activation a) {
        boolean mp = multiport && a.has(VIRTIO_CONSOLE_F_MULTIPORT);
        if (mp) {
            for (Port p : ports) {
                if (p.ready && p.present) {
                    announceOpen(p, true); // a client that came or went while the device was stopped (or restored)
                }
            }
        }
        worker = new Worker(a, mp);
        worker.thread.start();
    }

    /**
     * The thread finishes what it is on; a transmit chain waiting for a slow client goes back to its ring (the
     * bytes already sent are remembered: {@code txSkip}), so that no chain is held while the device is stopped.
     */
    @Override
    protected void stopWorkers() {
        if (worker == null) {
            return;
        }
        Worker w = worker;
        worker = null;
        w.close();
        for (Port p : ports) {
            if (p.txHeld) {
                w.a.queues()[txQueue(p.id)].undoPop();
                p.txHeld = false;
                p.held = null;
            }
        }
    }

    @Override
    protected boolean workersRunning() {
        return worker != null;
    }

    @Override
    public synchronized void reset() {
        stopWorkers();
        setActivation(null);
        for (Port p : ports) {
            p.forgetGuest();
        }
        pendingControl.clear();
    }

    /** Stops the device; the ends are their maker's to close. */
    @Override
    public void close() {
        reset();
        if (closed) {
            return;
        }
        closed = true;
        for (Port p : ports) {
            if (p.toGuest.get() + p.fromGuest.get() + p.dropped.get() > 0) {
                log.info("{}: port {}{}: {} bytes to the guest, {} from it, {} dropped", name(), p.id, p.name == null
                        ? "" : " (" + p.name + ")", p.toGuest.get(), p.fromGuest.get(), p.dropped.get());
            }
        }
    }

    // ---- saved state ----

    /** "VCON". */
    private static final int STATE_MAGIC = 0x56434F4E;

    /**
     * The configuration space, then (format 1) per port what the driver was told and said (added, ready, its
     * PORT_OPEN, ours) and the bytes of its next transmit chain already sent, and the control messages still waiting
     * for c_ivq buffers. Runs quiesced.
     */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        super.saveState(out);
        StateCodec.header(out, STATE_MAGIC, 1);
        out.writeInt(ports.length);
        for (Port p : ports) {
            out.writeBoolean(p.added);
            out.writeBoolean(p.ready);
            out.writeBoolean(p.guestOpen);
            out.writeBoolean(p.toldOpen);
            out.writeLong(p.txSkip);
        }
        out.writeInt(pendingControl.size());
        for (byte[] m : pendingControl) {
            StateCodec.blob(out, m);
        }
    }

    @Override
    public synchronized void restoreState(StateCodec.Reader in) throws IOException {
        super.restoreState(in);
        in.header(STATE_MAGIC, 1);
        int n = in.readInt("ports");
        if (n != ports.length) {
            throw in.bad("ports", n + " ports saved, this " + name() + " has " + ports.length);
        }
        boolean[][] flags = new boolean[n][4];
        long[] skip = new long[n];
        for (int i = 0; i < n; i++) {
            for (int f = 0; f < 4; f++) {
                flags[i][f] = in.readBoolean("port[" + i + "]." + new String[] {"added", "ready", "guest_open",
                    "told_open"}[f]);
            }
            skip[i] = in.readLong("port[" + i + "].tx_skip");
            if (skip[i] < 0 || skip[i] > 0xffff_ffffL * QUEUE_SIZE) {
                throw in.bad("port[" + i + "].tx_skip", skip[i] + " bytes is not a place in a chain");
            }
        }
        int m = in.count("pending_control", MAX_PENDING_CONTROL);
        ArrayDeque<byte[]> pending = new ArrayDeque<>();
        for (int i = 0; i < m; i++) {
            pending.add(in.blob("pending_control[" + i + "]", Control.SIZEOF, Control.SIZEOF + MAX_NAME_BYTES + 1));
        }
        for (int i = 0; i < n; i++) {
            Port p = ports[i];
            p.forgetGuest();
            p.added = flags[i][0];
            p.ready = flags[i][1];
            p.guestOpen = flags[i][2];
            p.toldOpen = flags[i][3];
            p.txSkip = skip[i];
        }
        pendingControl.clear();
        pendingControl.addAll(pending);
    }

    // ---- control messages to the driver (device thread, or before it starts) ----

    private void queueControl(long id, int event, int value, String name) {
        byte[] extra = name == null ? new byte[0] : (name + "\0").getBytes(StandardCharsets.UTF_8);
        if (pendingControl.size() >= MAX_PENDING_CONTROL) {
            long d = controlDropped.incrementAndGet();
            if (d <= 10 || Long.bitCount(d) == 1) {
                log.warn("{}: {} control messages wait for c_ivq buffers; dropped event {} for port {} ({} so far)",
                        name(), pendingControl.size(), event, id, d);
            }
            return;
        }
        byte[] m = new byte[Control.SIZEOF + extra.length];
        putLe(m, Control.ID, (int) id, 4);
        putLe(m, Control.EVENT, event, 2);
        putLe(m, Control.VALUE, value, 2);
        System.arraycopy(extra, 0, m, Control.SIZEOF, extra.length);
        pendingControl.add(m);
    }

    private static void putLe(byte[] b, int at, int v, int size) {
        for (int i = 0; i < size; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    /** Tells the driver whether a client is at {@code p}'s end, if that changed since it was last told. */
    private void announceOpen(Port p, boolean multiportActive) {
        boolean c = p.end.connected();
        if (multiportActive && p.ready && p.toldOpen != c) {
            queueControl(p.id, VIRTIO_CONSOLE_PORT_OPEN, c ? 1 : 0, null);
            p.toldOpen = c;
        }
    }

    /** The device thread with its queues' kicks, each end's listener and fds. */
    private final class Worker implements AutoCloseable {
        final Activation a;
        final boolean mp;
        final DeviceWorker thread;
        final Iovecs iov = new Iovecs(QUEUE_SIZE);
        final NativeBuffer ctrl = new NativeBuffer(Control.SIZEOF + MAX_NAME_BYTES + 1);
        final NativeBuffer msghdr = new NativeBuffer(MsgHdr.SIZEOF);
        final int queues;

        Worker(Activation a, boolean mp) {
            this.a = a;
            this.mp = mp;
            this.queues = mp ? 2 * (ports.length + 1) : 2;
            this.thread = new DeviceWorker(name(), this::ready, a.interrupts());
            try {
                for (int q = 0; q < queues; q++) {
                    if (a.queues()[q].isReady()) {
                        thread.watch(a.kicks()[q], q);
                    }
                }
                for (Port p : ports) {
                    p.regIn = p.regOut = null;
                    p.regInMask = p.regOutMask = 0;
                    p.listening = false;
                    if (!served(p)) {
                        continue;
                    }
                    Fd l = p.end.listener();
                    if (l != null) {
                        thread.watch(l, TOKEN_LISTEN + p.id, 0);
                    }
                    sync(p);
                }
            } catch (RuntimeException e) {
                close();
                throw e;
            }
            // look at every queue once: control messages waiting, a transmit chain given back at the last stop
            for (int q = 0; q < queues; q++) {
                if (a.queues()[q].isReady()) {
                    a.kicks()[q].signal();
                }
            }
        }

        VirtQueue queue(int q) {
            return q < queues && a.queues()[q].isReady() ? a.queues()[q] : null;
        }

        /**
         * Whether the device serves port {@code p}'s queues: with MULTIPORT the ports it has; without, port 0 only,
         * which the driver makes a console even when the device has none (its output is then dropped: hvc's writes
         * wait for their buffer to come back, so it must come back).
         */
        boolean served(Port p) {
            return mp ? p.present : p.id == 0;
        }

        void ready(long token, int events) {
            if (token < TOKEN_LISTEN) {
                int q = (int) token;
                a.kicks()[q].drain();
                kicked(q);
            } else if (token < TOKEN_IN) {
                Port p = ports[(int) (token - TOKEN_LISTEN)];
                if (p.end.accept()) {
                    log.info("{}: port {}{}: a client connected to {}", name(), p.id, p.name == null ? "" : " (" + p.name
                            + ")", p.end);
                    announceOpen(p, mp);
                }
                sync(p);
            } else if (token < TOKEN_OUT) {
                Port p = ports[(int) (token - TOKEN_IN)];
                if ((events & Epoll.EPOLLOUT) != 0) {
                    continueHeld(p);
                }
                if ((events & Epoll.EPOLLIN) != 0) {
                    receive(p);
                } else if ((events & (Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0) {
                    lost(p, true); // hung up while the guest takes no input: what it sent last is lost
                }
            } else {
                Port p = ports[(int) (token - TOKEN_OUT)];
                if ((events & (Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0 && (events & Epoll.EPOLLOUT) == 0) {
                    lost(p, false);
                } else {
                    continueHeld(p);
                }
            }
            flushControl();
        }

        void kicked(int q) {
            if (mp && q == CONTROL_RX) {
                return; // buffers for our messages: flushed after every event
            }
            if (mp && q == CONTROL_TX) {
                controlFromGuest();
                return;
            }
            Port p = ports[portOf(q)];
            if (!served(p)) {
                return;
            }
            if (q == rxQueue(p.id)) {
                p.rxStarved = false; // buffers again: the end is read once epoll says it has input
                sync(p);
            } else {
                transmit(p);
            }
        }

        /** Whether port {@code p} takes input now: a console always, a named port while the guest has it open. */
        boolean takesInput(Port p) {
            return !mp || p.console || p.guestOpen;
        }

        /**
         * Makes the epoll watch what {@code p} needs now: its listener while no client is connected; its input for
         * EPOLLIN while the guest takes input and has buffers (for EPOLLHUP always, so a client that leaves is seen);
         * its output for EPOLLOUT while a chain waits for it.
         */
        void sync(Port p) {
            if (!served(p)) {
                return;
            }
            Fd l = p.end.listener();
            if (l != null && l.isOpen()) {
                boolean want = !p.end.connected();
                if (want != p.listening) {
                    thread.setEvents(l, TOKEN_LISTEN + p.id, want ? Epoll.EPOLLIN : 0);
                    p.listening = want;
                }
            }
            Fd in = p.end.input(), out = p.end.output();
            VirtQueue rx = queue(rxQueue(p.id));
            boolean wantIn = in != null && rx != null && !p.rxStarved && takesInput(p);
            boolean wantOut = p.txHeld && out != null;
            int inMask = (wantIn ? Epoll.EPOLLIN : 0) | (wantOut && out == in ? Epoll.EPOLLOUT : 0);
            if (!register(p, in, inMask, TOKEN_IN + p.id, true)) {
                p.end.inputEnded(); // epoll cannot watch it (stdin on /dev/null or a file): no input
            }
            Fd o = out == in ? null : out;
            if (!register(p, wantOut ? o : null, Epoll.EPOLLOUT, TOKEN_OUT + p.id, false)) {
                lost(p, false);
            }
        }

        /**
         * Keeps {@code fd} (null: nothing) registered under {@code token} with {@code mask}, in place of what was;
         * false when epoll refuses {@code fd}.
         */
        private boolean register(Port p, Fd fd, int mask, long token, boolean input) {
            Fd had = input ? p.regIn : p.regOut;
            int hadMask = input ? p.regInMask : p.regOutMask;
            if (had != null && had != fd && had.isOpen()) {
                thread.unwatch(had); // (a closed fd left the epoll when it was closed)
            }
            boolean ok = true;
            if (fd != null) {
                try {
                    if (had != fd) {
                        thread.watch(fd, token, mask);
                    } else if (hadMask != mask) {
                        thread.setEvents(fd, token, mask);
                    }
                } catch (ErrnoException e) {
                    log.info("{}: port {}: {} {} cannot be watched ({}); it is not used", name(), p.id,
                            input ? "input" : "output", fd, e.getMessage());
                    fd = null;
                    ok = false;
                }
            }
            if (input) {
                p.regIn = fd;
                p.regInMask = mask;
            } else {
                p.regOut = fd;
                p.regOutMask = mask;
            }
            return ok;
        }

        /** Reads {@code p}'s input into its receiveq's buffers (epoll said it has some). */
        void receive(Port p) {
            Fd in = p.end.input();
            VirtQueue rx = queue(rxQueue(p.id));
            if (in == null || rx == null || !takesInput(p)) {
                sync(p);
                return;
            }
            boolean any = false;
            // a socket is non-blocking: read until it is empty; stdin may block, so read it once per readiness
            int reads = p.end.socketOutput() ? RX_BATCH : 1;
            for (int i = 0; i < reads; i++) {
                DescriptorChain c = rx.pop();
                if (c == null) {
                    p.rxStarved = true;
                    break;
                }
                if (c.readableCount() != 0) {
                    rx.undoPop();
                    throw new GuestProtocolException(GuestProtocolException.Reason.WRONG_DIRECTION, name()
                            + ": port " + p.id + " receive buffer " + c.head() + " has device-readable descriptors");
                }
                iov.fill(c, 0, c.count(), 0, 0);
                long n;
                do {
                    n = Native.LIBC.readv(in.fd(), iov.address(), iov.count());
                } while (Iovecs.interrupted(n));
                if (n > 0) {
                    rx.addUsed(c, n); // marks what readv wrote dirty for a migration
                    p.toGuest.addAndGet(n);
                    any = true;
                    continue;
                }
                rx.undoPop();
                if (n == 0 || Native.errno() != Errno.EAGAIN) {
                    if (n < 0) {
                        log.info("{}: port {}: reading {} failed: errno {}", name(), p.id, p.end, Native.errno());
                    }
                    lost(p, true);
                }
                break;
            }
            if (any && rx.needsInterrupt()) {
                a.interrupts().signalQueue(rx.index());
            }
            sync(p);
        }

        /** Sends the guest's output on {@code p}'s transmitq to its end, until the ring is empty or the end is full. */
        void transmit(Port p) {
            VirtQueue tx = queue(txQueue(p.id));
            if (tx == null || p.txHeld) {
                return; // a held chain goes on when the end can take more (EPOLLOUT)
            }
            boolean any = false;
            DescriptorChain c;
            while ((c = tx.pop()) != null) {
                if (c.writableCount() != 0) {
                    tx.undoPop();
                    throw new GuestProtocolException(GuestProtocolException.Reason.WRONG_DIRECTION, name()
                            + ": port " + p.id + " transmit buffer " + c.head() + " has device-writable descriptors");
                }
                if (!send(p, c)) {
                    p.txHeld = true;
                    p.held = c;
                    p.holds.incrementAndGet();
                    break;
                }
                tx.addUsed(c.head(), 0);
                any = true;
            }
            if (any && tx.needsInterrupt()) {
                a.interrupts().signalQueue(tx.index());
            }
            sync(p);
        }

        /** The end can take more: the held chain goes on, then the rest of the ring. */
        void continueHeld(Port p) {
            if (!p.txHeld) {
                sync(p);
                return;
            }
            VirtQueue tx = queue(txQueue(p.id));
            if (send(p, p.held)) {
                finishHeld(p, tx);
                transmit(p);
            } else {
                sync(p);
            }
        }

        private void finishHeld(Port p, VirtQueue tx) {
            tx.addUsed(p.held.head(), 0);
            p.txHeld = false;
            p.held = null;
            if (tx.needsInterrupt()) {
                a.interrupts().signalQueue(tx.index());
            }
        }

        /**
         * Writes chain {@code c} from byte {@code p.txSkip} on to {@code p}'s end; true when it is done with (sent, or
         * dropped: no output, or the output failed), false when the end took only part (or nothing) and the rest waits
         * for EPOLLOUT ({@code p.txSkip} then counts what went).
         */
        boolean send(Port p, DescriptorChain c) {
            long total = c.readableBytes();
            long skip = Math.min(p.txSkip, total);
            Fd out = p.end.output();
            if (out == null) {
                p.dropped.addAndGet(total - skip);
                p.txSkip = 0;
                return true;
            }
            iov.fill(c, 0, c.readableCount(), skip, 0);
            while (skip < total) {
                long n;
                if (p.end.socketOutput()) {
                    n = UnixSocket.send(out, msghdr, iov.address(), iov.count());
                } else {
                    do {
                        n = Native.LIBC.writev(out.fd(), iov.address(), iov.count());
                    } while (Iovecs.interrupted(n));
                }
                if (n > 0) {
                    p.fromGuest.addAndGet(n);
                    skip += n;
                    iov.advance(n);
                    continue;
                }
                int errno = n < 0 ? Native.errno() : 0;
                if (errno == Errno.EAGAIN) {
                    p.txSkip = skip;
                    return false;
                }
                if (errno != Errno.EPIPE && errno != Errno.ECONNRESET) {
                    log.info("{}: port {}: writing to {} failed: errno {}", name(), p.id, p.end, errno);
                }
                p.dropped.addAndGet(total - skip);
                p.txSkip = 0;
                lost(p, false);
                return true;
            }
            p.txSkip = 0;
            return true;
        }

        /**
         * {@code p}'s input ended or its output failed: a socket end lets its client go (the guest is told, a chain
         * waiting for it is dropped), stdio stops being read or written.
         */
        void lost(Port p, boolean input) {
            boolean was = p.end.connected();
            if (input) {
                p.end.inputEnded();
            } else {
                p.end.outputFailed();
            }
            if (was && !p.end.connected()) {
                log.info("{}: port {}{}: the client of {} left", name(), p.id, p.name == null ? "" : " (" + p.name
                        + ")", p.end);
                announceOpen(p, mp);
            }
            if (p.txHeld && p.end.output() == null) {
                VirtQueue tx = queue(txQueue(p.id));
                p.dropped.addAndGet(p.held.readableBytes() - Math.min(p.txSkip, p.held.readableBytes()));
                p.txSkip = 0;
                finishHeld(p, tx);
                transmit(p); // the rest is dropped too, until a client comes
            }
            sync(p);
        }

        /** The driver's control messages on c_ovq. */
        void controlFromGuest() {
            VirtQueue q = queue(CONTROL_TX);
            if (q == null) {
                return;
            }
            boolean any = false;
            DescriptorChain c;
            while ((c = q.pop()) != null) {
                if (c.writableCount() != 0 || c.readableBytes() < Control.SIZEOF) {
                    bad("a control message of " + c.readableBytes() + " bytes" + (c.writableCount() != 0
                            ? " with device-writable descriptors" : ""));
                } else {
                    iov.fill(c, 0, c.readableCount(), 0, 0);
                    iov.copyOut(0, ctrl.address(), Control.SIZEOF);
                    control(ctrl.getInt(Control.ID) & 0xffff_ffffL, ctrl.getShort(Control.EVENT) & 0xffff,
                            ctrl.getShort(Control.VALUE) & 0xffff);
                }
                q.addUsed(c.head(), 0);
                any = true;
            }
            if (any && q.needsInterrupt()) {
                a.interrupts().signalQueue(q.index());
            }
        }

        /** One control message from the driver (virtio 1.2 §5.3.6.2). */
        void control(long id, int event, int value) {
            if (event == VIRTIO_CONSOLE_DEVICE_READY) {
                if (value != 1) {
                    log.warn("{}: the driver failed to set the device up (DEVICE_READY {})", name(), value);
                    return;
                }
                for (Port p : ports) {
                    if (p.present) {
                        queueControl(p.id, VIRTIO_CONSOLE_PORT_ADD, 1, null);
                        p.added = true;
                    }
                }
                return;
            }
            Port p = id < ports.length && ports[(int) id].present ? ports[(int) id] : null;
            if (p == null || !p.added) {
                bad("event " + event + " for port " + id + (p == null ? ", which the device does not have"
                        : ", which it has not announced yet"));
                return;
            }
            switch (event) {
                case VIRTIO_CONSOLE_PORT_READY -> {
                    if (value != 1) {
                        log.warn("{}: the driver failed to add port {} (PORT_READY {})", name(), id, value);
                        return;
                    }
                    p.ready = true;
                    if (p.console) {
                        queueControl(p.id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, null);
                    }
                    if (p.name != null) {
                        queueControl(p.id, VIRTIO_CONSOLE_PORT_NAME, 1, p.name);
                    }
                    p.toldOpen = false; // a port the driver adds starts with the host end closed
                    announceOpen(p, true); // PORT_OPEN 1 when a client is there
                }
                case VIRTIO_CONSOLE_PORT_OPEN -> {
                    p.guestOpen = value != 0;
                    sync(p);
                }
                default -> bad("event " + event + " (value " + value + ") for port " + id + ", an event only a "
                        + "device sends");
            }
        }

        private void bad(String what) {
            long n = badControl.incrementAndGet();
            if (n <= 10 || Long.bitCount(n) == 1) {
                log.warn("{}: ignored {} from the driver ({} so far)", name(), what, n);
            }
        }

        /** Hands waiting control messages to the driver's c_ivq buffers. */
        void flushControl() {
            VirtQueue q = mp ? queue(CONTROL_RX) : null;
            if (q == null || pendingControl.isEmpty()) {
                return;
            }
            boolean any = false;
            while (!pendingControl.isEmpty()) {
                DescriptorChain c = q.pop();
                if (c == null) {
                    break;
                }
                byte[] m = pendingControl.peek();
                if (c.readableCount() != 0 || c.writableBytes() < m.length) {
                    q.undoPop();
                    throw new GuestProtocolException(c.readableCount() != 0
                            ? GuestProtocolException.Reason.WRONG_DIRECTION : GuestProtocolException.Reason.MALFORMED_REQUEST,
                            name() + ": control receive buffer " + c.head() + (c.readableCount() != 0
                            ? " has device-readable descriptors" : " of " + c.writableBytes() + " bytes cannot hold a "
                            + m.length + "-byte control message"));
                }
                ctrl.put(0, m, 0, m.length);
                iov.fill(c, 0, c.count(), 0, 0);
                iov.copyIn(ctrl.address(), m.length);
                q.addUsed(c, m.length);
                pendingControl.poll();
                controlSent.incrementAndGet();
                any = true;
            }
            if (any && q.needsInterrupt()) {
                a.interrupts().signalQueue(q.index());
            }
        }

        @Override
        public void close() {
            thread.close();
            iov.close();
            ctrl.close();
            msghdr.close();
        }
    }
}

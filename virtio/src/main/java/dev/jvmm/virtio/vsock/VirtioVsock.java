package dev.jvmm.virtio.vsock;

import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.virtio.DescriptorChain;
import dev.jvmm.virtio.DeviceWorker;
import dev.jvmm.virtio.GuestProtocolException;
import dev.jvmm.virtio.VirtQueue;
import dev.jvmm.virtio.VirtioDevice;
import dev.jvmm.virtio.VirtioInterrupts;
import dev.jvmm.virtio.vsock.VirtioVsockLayout.Config;
import dev.jvmm.virtio.vsock.VirtioVsockLayout.Constants;
import dev.jvmm.virtio.vsock.VirtioVsockLayout.Event;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * virtio-vsock (virtio 1.2 §5.10, device id 19): sockets between the guest (its CID in the configuration space) and
 * the host (CID 2). The rx and tx queues are served by a {@link VsockBackend}, the kernel's vhost-vsock in a VM, so
 * packets and their interrupts never pass through the JVM; the event queue is served here: it carries
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, which this device sends after a restore (a snapshot or a migration): the host
 * side's connections did not travel with the VM, so the guest drops its sockets and re-reads its CID, as under QEMU
 * and Firecracker.
 *
 * <p>Queue layout: rx (0), tx (1), event (2). One thread ({@code virtio-vsock-0}) watches the event queue's kick,
 * the backend's error eventfds and the call eventfds it relays for queues whose MSI-X vector has no irqfd.
 *
 * <p>Guest errors: an event buffer shorter than 4 bytes or not device-writable puts the device in NEEDS_RESET (the
 * buffer is not used); the backend stopping a ring on a bad descriptor does too.
 */
public final class VirtioVsock extends VirtioDevice {
    private static final Logger log = LoggerFactory.getLogger(VirtioVsock.class);
    public static final int VIRTIO_VSOCK_F_SEQPACKET = Constants.VIRTIO_VSOCK_F_SEQPACKET;
    public static final int QUEUE_SIZE = 256;
    public static final int RX = 0, TX = 1, EVENT = 2;
    private static final long TOKEN_EVENT_KICK = 0, TOKEN_RELAY = 0x100, TOKEN_ERR = 0x200;

    private final VsockBackend backend;
    /** Guarded by this. */
    private DeviceWorker worker;
    private final List<EventFd> owned = new ArrayList<>();
    /** The eventfds the worker reads, by queue: relayed calls, error eventfds. */
    private final EventFd[] relay = new EventFd[2], errs = new EventFd[2];
    /** A TRANSPORT_RESET waiting for an event buffer (guarded by {@link #events}). */
    private boolean resetPending;
    private final Object events = new Object();
    private long eventsSent;

    /** A device whose CID and data path are {@code backend}'s; {@link #close()} closes the backend. */
    public VirtioVsock(String name, VsockBackend backend) {
        super(name, Config.SIZEOF);
        this.backend = backend;
        checkCid(backend.guestCid());
        setConfig(Config.GUEST_CID, 8, backend.guestCid());
    }

    /**
     * Refuses a CID no guest may have: 0 (hypervisor), 1 (local), 2 (host) and 2^32-1 (any) are reserved and the
     * address is 32 bits on the wire of AF_VSOCK, so a guest CID is 3 to 2^32-2.
     */
    public static void checkCid(long cid) {
        if (cid < 3 || cid >= 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("vsock cid " + Long.toUnsignedString(cid) + " is reserved or out of range: a "
                    + "guest's CID is 3 to 4294967294 (0, 1 and 2 are the hypervisor, local and the host; 4294967295 is any)");
        }
    }

    /** The guest's CID. */
    public long guestCid() {
        return backend.guestCid();
    }

    @Override
    public int deviceType() {
        return Constants.VIRTIO_ID_VSOCK;
    }

    @Override
    public int pciClass() {
        return 0x078000; // communication controller, other (as QEMU's vhost-vsock-pci)
    }

    @Override
    public long deviceFeatures() {
        return backend.deviceFeatures() & 1L << VIRTIO_VSOCK_F_SEQPACKET;
    }

    @Override
    public int queueCount() {
        return 3;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int maxSegments(int queue) {
        return QUEUE_SIZE;
    }

    /** The kernel signals the rx and tx interrupts: the transport holds masked vectors' irqfds. */
    @Override
    public boolean signalsFromKernel() {
        return true;
    }

    /** The configuration space is read-only (§5.10.4): a driver write is ignored. */
    @Override
    public void writeConfig(int offset, int size, int value) {
    }

    /**
     * A restored device: the rings go back to the backend where they were once the VM runs, and the driver is told
     * that the transport was reset (its connections' host ends are not here).
     */
    @Override
    public synchronized void restored(Activation a) {
        super.restored(a);
        synchronized (events) {
            resetPending = true;
        }
    }

    /**
     * Sends VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue (now, or when the driver next gives the queue a
     * buffer). Returns false when no driver runs the device.
     */
    public boolean transportReset() {
        Activation a = activation();
        if (a == null) {
            return false;
        }
        synchronized (events) {
            resetPending = true;
        }
        deliverChecked(a);
        return true;
    }

    /** How many events the driver got. */
    public long eventsSent() {
        synchronized (events) {
            return eventsSent;
        }
    }

    /** Puts a pending TRANSPORT_RESET in the next event buffer, if there is one. */
    private void deliverEvents(Activation a) {
        VirtQueue q = a.queues()[EVENT];
        synchronized (events) {
            if (!resetPending || !q.isReady()) {
                return;
            }
            DescriptorChain c = q.pop();
            if (c == null) {
                return; // the driver keeps the queue filled; the next kick delivers it
            }
            if (c.readableCount() != 0 || c.writableBytes() < Event.SIZEOF || c.length(0) < Event.SIZEOF) {
                q.undoPop();
                throw new GuestProtocolException(GuestProtocolException.Reason.MALFORMED_REQUEST, name()
                        + ": event buffer " + c.head() + " is not one device-writable buffer of at least 4 bytes");
            }
            a.memory().putInt(c.guestAddress(0) + Event.ID, Constants.VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
            q.addUsed(c, Event.SIZEOF);
            resetPending = false;
            eventsSent++;
            if (q.needsInterrupt()) {
                a.interrupts().signalQueue(EVENT);
            }
            log.info("{}: sent VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (guest cid {})", name(), guestCid());
        }
    }

    @Override
    protected void startWorkers(Activation a) {
        VirtioInterrupts irq = a.interrupts();
        DeviceWorker w = new DeviceWorker(name(), (token, ev) -> ready(a, token), irq);
        try {
            VirtQueue[] rings = {a.queues()[RX], a.queues()[TX]};
            EventFd[] kicks = {a.kicks()[RX], a.kicks()[TX]};
            EventFd[] calls = new EventFd[2];
            for (int i = 0; i < 2; i++) {
                EventFd direct = irq.queueEventFd(i);
                if (direct == null) {
                    relay[i] = own(EventFd.create(name() + "-call" + i));
                    w.watch(relay[i], TOKEN_RELAY + i);
                }
                calls[i] = direct != null ? direct : relay[i];
                errs[i] = own(EventFd.create(name() + "-err" + i));
                w.watch(errs[i], TOKEN_ERR + i);
            }
            if (a.queues()[EVENT].isReady()) {
                w.watch(a.kicks()[EVENT], TOKEN_EVENT_KICK);
            }
            if (rings[0].isReady() && rings[1].isReady()) {
                backend.start(a.memory(), a.features(), rings, kicks, calls, errs);
            } else {
                log.warn("{}: the driver enabled {} of the rx and tx queues: no data path", name(),
                        rings[0].isReady() ? "only rx" : rings[1].isReady() ? "only tx" : "neither");
            }
        } catch (RuntimeException e) {
            w.close();
            closeOwned();
            log.warn("{}: vhost-vsock cannot serve this device: {}", name(), e.getMessage());
            irq.needsReset("vhost-vsock cannot serve the rings: " + e.getMessage());
            return;
        }
        worker = w;
        w.start();
        deliverChecked(a); // a restore's TRANSPORT_RESET, if the driver left an event buffer
    }

    /** {@link #deliverEvents} off the device thread: a guest error puts the device in NEEDS_RESET. */
    private void deliverChecked(Activation a) {
        try {
            deliverEvents(a);
        } catch (GuestProtocolException e) {
            log.warn("{}", e.getMessage()); // the message starts with the device's name
            a.interrupts().needsReset(e.getMessage());
        }
    }

    private EventFd own(EventFd e) {
        owned.add(e);
        return e;
    }

    private void ready(Activation a, long token) {
        if (token >= TOKEN_ERR) {
            int q = (int) (token - TOKEN_ERR);
            errs[q].drain();
            throw new GuestProtocolException(GuestProtocolException.Reason.MALFORMED_REQUEST, name()
                    + ": vhost-vsock stopped queue " + q + " on a bad ring, descriptor or address");
        } else if (token >= TOKEN_RELAY) {
            int q = (int) (token - TOKEN_RELAY);
            relay[q].drain();
            a.interrupts().signalQueue(q);
        } else if (token == TOKEN_EVENT_KICK) {
            a.kicks()[EVENT].drain();
            deliverEvents(a);
        }
    }

    /** The backend stops first (its rings go back to their queues where it stopped), then the thread. */
    @Override
    protected void stopWorkers() {
        try {
            backend.stop();
        } catch (RuntimeException e) {
            log.warn("{}: stopping vhost-vsock: {}", name(), e.toString());
        }
        if (worker != null) {
            worker.close();
            worker = null;
        }
        closeOwned();
    }

    private void closeOwned() {
        owned.forEach(EventFd::close);
        owned.clear();
        relay[0] = relay[1] = errs[0] = errs[1] = null;
    }

    @Override
    protected boolean workersRunning() {
        return worker != null;
    }

    /** "VSCK". */
    private static final int STATE_MAGIC = 0x5653434B;

    /** The configuration space, then (format 1) the CID the guest had. */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        super.saveState(out);
        StateCodec.header(out, STATE_MAGIC, 1);
        out.writeLong(guestCid());
    }

    /**
     * The saved configuration, with this VM's CID: a destination may give the VM another CID (a migration on one host
     * must, the source holds its CID until it ends); the driver re-reads it on the TRANSPORT_RESET that follows.
     */
    @Override
    public synchronized void restoreState(StateCodec.Reader in) throws IOException {
        super.restoreState(in);
        in.header(STATE_MAGIC, 1);
        long saved = in.readLong("guest_cid");
        setConfig(Config.GUEST_CID, 8, guestCid());
        if (saved != guestCid()) {
            log.info("{}: restored with cid {} (it had {})", name(), guestCid(), saved);
        }
    }

    @Override
    public synchronized void reset() {
        stopWorkers();
        setActivation(null);
        synchronized (events) {
            resetPending = false;
        }
    }

    @Override
    public void close() {
        reset();
        backend.close();
    }
}

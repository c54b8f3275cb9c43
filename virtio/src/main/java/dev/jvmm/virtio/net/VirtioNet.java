package dev.jvmm.virtio.net;

import static dev.jvmm.virtio.net.VirtioNetLayout.Constants.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.Errno;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.tun.TapDevice;
import dev.jvmm.sys.tun.TunConstants;
import dev.jvmm.sys.vhost.VhostFd;
import dev.jvmm.virtio.DescriptorChain;
import dev.jvmm.virtio.DeviceWorker;
import dev.jvmm.virtio.GuestProtocolException;
import dev.jvmm.virtio.Iovecs;
import dev.jvmm.virtio.VirtQueue;
import dev.jvmm.virtio.VirtioDevice;
import dev.jvmm.virtio.VirtioInterrupts;
import dev.jvmm.virtio.net.VirtioNetLayout.Config;
import dev.jvmm.virtio.net.VirtioNetLayout.Hdr;
import dev.jvmm.virtio.vhost.VhostNet;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * virtio-net (virtio 1.2 §5.1) over a TAP opened with IFF_VNET_HDR: the guest's 12-byte virtio_net_hdr travels
 * with each frame, so checksum and segmentation offloads pass through; TUNSETOFFLOAD follows the features the
 * guest negotiated (and CTRL_GUEST_OFFLOADS). Mergeable rx buffers, MAC and link STATUS, multiqueue with one
 * TAP queue and one thread per queue pair ({@code virtio-net-0}, {@code virtio-net-0-q1}, …), and the control
 * queue (RX mode, MAC filter table, MAC address, MQ pairs, guest offloads). tx is writev and rx readv straight
 * between the TAP and guest RAM.
 *
 * <p>With {@link #setVhost vhost-net}, the kernel's vhost worker serves the rx and tx rings instead ({@link VhostNet}):
 * one vhost fd per queue pair, kicked by the queues' ioeventfds and signalling their MSI-X irqfds, so frames and
 * their interrupts never pass through the JVM. The control queue, the TAP's offloads and queue enabling stay here.
 * The receive filter (RX mode, MAC table) is not applied then: vhost hands the guest every frame of the TAP, as
 * QEMU's vhost-net does. When vhost cannot start (an ioctl refused, a ring feature it lacks) the device logs why and
 * serves the rings itself.
 *
 * <p>Queue layout: receiveq1, transmitq1, …, receiveqN, transmitqN, controlq.
 */
public final class VirtioNet extends VirtioDevice {
    private static final Logger log = LoggerFactory.getLogger(VirtioNet.class);
    public static final int QUEUE_SIZE = 256;
    /** Largest frame plus header a readv may deliver (64 KiB GSO + Ethernet + VLAN + header). */
    private static final int MAX_RX = 65562;
    private static final int RX_SEGMENTS = 1024;
    private static final long TOKEN_RX_KICK = 0, TOKEN_TX_KICK = 1, TOKEN_TAP = 2, TOKEN_CTRL = 3;
    /** vhost mode: queue q's relayed call eventfd is token TOKEN_RELAY + q, its error eventfd TOKEN_ERR + q. */
    private static final long TOKEN_RELAY = 0x100, TOKEN_ERR = 0x200;

    private final TapDevice tap;
    private final int pairs;
    private volatile byte[] mac;
    private final List<PairWorker> workers = new ArrayList<>();
    private final RxFilter filter = new RxFilter();
    private volatile int activePairs = 1;
    /** The features the TAP's offloads follow (negotiated, or set by CTRL_GUEST_OFFLOADS). */
    private volatile long offloads;
    /** Failover: offer VIRTIO_NET_F_STANDBY, and tell this listener when a driver negotiated it (null: not a standby). */
    private volatile Runnable standbyNegotiated;
    /** Opens the vhost-net fds; null: the rings are served here. */
    private volatile Supplier<VhostFd> vhostOpener;
    /** The vhost data plane while it serves the rings (guarded by this). */
    private VhostNet vhost;
    /** Why vhost could not serve this device (it then never tries again), or null. */
    private volatile String vhostFallback;
    private final AtomicLong rxPackets = new AtomicLong(), txPackets = new AtomicLong(), rxDropped = new AtomicLong(),
            txErrors = new AtomicLong();

    public VirtioNet(String name, TapDevice tap, byte[] mac, int pairs) {
        super(name, Config.SIZE);
        if (pairs < 1 || pairs > tap.queueCount()) {
            throw new IllegalArgumentException(name + ": " + pairs + " queue pairs but the TAP has " + tap.queueCount()
                    + " queues");
        }
        if (mac.length != 6 || (mac[0] & 1) != 0) {
            throw new IllegalArgumentException(name + ": MAC must be 6 bytes, unicast");
        }
        if (!tap.vnetHdr()) {
            throw new IllegalArgumentException(name + ": " + tap + " was opened without IFF_VNET_HDR");
        }
        this.tap = tap;
        this.pairs = pairs;
        this.mac = mac.clone();
        setConfigBytes(Config.MAC, mac);
        setConfig(Config.STATUS, 2, VIRTIO_NET_S_LINK_UP);
        setConfig(Config.MAX_VIRTQUEUE_PAIRS, 2, pairs);
        setConfig(Config.MTU, 2, 1500);
    }

    @Override
    public int deviceType() {
        return 1;
    }

    @Override
    public int pciClass() {
        return 0x020000; // network, Ethernet
    }

    @Override
    public long deviceFeatures() {
        long f = 0;
        for (int b : new int[] {VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
                VIRTIO_NET_F_MAC, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN,
                VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN,
                VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_CTRL_VQ,
                VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_GUEST_ANNOUNCE}) {
            f |= 1L << b;
        }
        if (pairs > 1) {
            f |= 1L << VIRTIO_NET_F_MQ;
        }
        if (standbyNegotiated != null) {
            f |= 1L << VIRTIO_NET_F_STANDBY;
        }
        return f;
    }

    @Override
    public int queueCount() {
        return 2 * pairs + 1;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int maxSegments(int queue) {
        return QUEUE_SIZE;
    }

    /**
     * Makes this NIC the standby of a virtio-net failover pair (QEMU's {@code failover=on}): it offers
     * VIRTIO_NET_F_STANDBY, and {@code negotiated} runs (on the vCPU thread that set DRIVER_OK; hand work off) each
     * time a driver activates the device with STANDBY accepted, which is when the primary may be plugged. Set
     * before the guest starts.
     */
    public void setStandby(Runnable negotiated) {
        this.standbyNegotiated = negotiated;
    }

    /** Whether this NIC offers VIRTIO_NET_F_STANDBY. */
    public boolean standby() {
        return standbyNegotiated != null;
    }

    /** Whether the driver now running this NIC accepted VIRTIO_NET_F_STANDBY (also after a restore). */
    public boolean standbyAccepted() {
        Activation a = activation();
        return standbyNegotiated != null && a != null && a.has(VIRTIO_NET_F_STANDBY);
    }

    /**
     * Serves the rx and tx rings with vhost-net, each activation opening its fds through {@code opener} (normally
     * {@link VhostFd#open()}); set before the transport is built (it then holds masked vectors' irqfds, see
     * {@link #signalsFromKernel()}).
     */
    public void setVhost(Supplier<VhostFd> opener) {
        this.vhostOpener = opener;
    }

    @Override
    public boolean signalsFromKernel() {
        return vhostOpener != null;
    }

    /** Whether vhost-net serves the rings now. */
    public synchronized boolean vhostServing() {
        return vhost != null;
    }

    /** Why vhost-net could not serve this device (the userspace data plane does), or null. */
    public String vhostFallback() {
        return vhostFallback;
    }

    public TapDevice tap() {
        return tap;
    }

    public byte[] mac() {
        return mac.clone();
    }

    public int activePairs() {
        return activePairs;
    }

    public long rxPackets() {
        return rxPackets.get();
    }

    public long txPackets() {
        return txPackets.get();
    }

    public long rxDropped() {
        return rxDropped.get();
    }

    public synchronized boolean threadsAlive() {
        return !workers.isEmpty() && workers.stream().allMatch(w -> w.thread.isAlive());
    }

    /** TUN_F_* offloads for the guest-receive features in {@code features}. */
    static int tunOffloads(long features) {
        int t = 0;
        if ((features & 1L << VIRTIO_NET_F_GUEST_CSUM) != 0) {
            t |= TunConstants.TUN_F_CSUM;
            if ((features & 1L << VIRTIO_NET_F_GUEST_TSO4) != 0) {
                t |= TunConstants.TUN_F_TSO4;
            }
            if ((features & 1L << VIRTIO_NET_F_GUEST_TSO6) != 0) {
                t |= TunConstants.TUN_F_TSO6;
            }
            if ((features & 1L << VIRTIO_NET_F_GUEST_ECN) != 0 && (t & (TunConstants.TUN_F_TSO4 | TunConstants.TUN_F_TSO6)) != 0) {
                t |= TunConstants.TUN_F_TSO_ECN;
            }
            if ((features & 1L << VIRTIO_NET_F_GUEST_UFO) != 0) {
                t |= TunConstants.TUN_F_UFO;
            }
        }
        return t;
    }

    private void applyOffloads(long features) {
        offloads = features;
        int t = tunOffloads(features);
        try {
            tap.setOffload(t);
        } catch (RuntimeException e) {
            // kernels without UFO on TAP refuse TUN_F_UFO: keep the rest
            tap.setOffload(t & ~TunConstants.TUN_F_UFO);
            log.info("{}: {} refused UFO; offloads 0x{}", name(), tap.name(), Integer.toHexString(t & ~TunConstants.TUN_F_UFO));
        }
    }

    @Override
    public synchronized void activate(Activation a) {
        reset();
        setActivation(a);
        tap.setVnetHdrSize(Hdr.SIZEOF);
        applyOffloads(a.features());
        setActivePairs(1);
        startWorkers(a);
        Runnable standby = standbyNegotiated;
        if (standby != null && a.has(VIRTIO_NET_F_STANDBY)) {
            log.info("{}: the driver accepted VIRTIO_NET_F_STANDBY", name());
            standby.run();
        }
    }

    /** As the driver left it: its MAC, filter, queue pairs and offloads come from the restored state. */
    @Override
    public synchronized void restored(Activation a) {
        super.restored(a);
        tap.setVnetHdrSize(Hdr.SIZEOF);
        applyOffloads(offloads);
        setActivePairs(activePairs);
    }

    @Override
    protected void startWorkers(Activation a) {
        boolean mrg = a.has(VIRTIO_NET_F_MRG_RXBUF);
        VirtQueue ctrl = a.has(VIRTIO_NET_F_CTRL_VQ) ? a.queues()[2 * pairs] : null;
        int usable = a.has(VIRTIO_NET_F_MQ) ? pairs : 1;
        if (vhostOpener != null && vhostFallback == null && startVhost(a, usable, ctrl)) {
            return;
        }
        for (int p = 0; p < usable; p++) {
            VirtQueue rx = a.queues()[2 * p], tx = a.queues()[2 * p + 1];
            if (!rx.isReady() || !tx.isReady()) {
                continue;
            }
            PairWorker w = new PairWorker(p, rx, tx, p == 0 && ctrl != null && ctrl.isReady() ? ctrl : null, a, mrg);
            workers.add(w);
        }
        workers.forEach(w -> w.thread.start());
    }

    /**
     * Hands the ready queue pairs among the first {@code usable} to vhost, with one thread here for the control queue,
     * the relayed interrupts (queues without an irqfd of their own) and vhost's error eventfds. Returns false, having
     * undone everything and logged why, when vhost cannot serve them.
     */
    private boolean startVhost(Activation a, int usable, VirtQueue ctrl) {
        List<Integer> ready = new ArrayList<>();
        for (int p = 0; p < usable; p++) {
            if (a.queues()[2 * p].isReady() && a.queues()[2 * p + 1].isReady()) {
                ready.add(p);
            }
        }
        int n = ready.size();
        VirtQueue[] rings = new VirtQueue[2 * n];
        EventFd[] kicks = new EventFd[2 * n], calls = new EventFd[2 * n], errs = new EventFd[2 * n];
        Fd[] taps = new Fd[n];
        PairWorker w = new PairWorker(0, null, null, ctrl != null && ctrl.isReady() ? ctrl : null, a, false);
        VhostNet v = new VhostNet(name(), vhostOpener);
        int relayed = 0;
        try {
            for (int i = 0; i < n; i++) {
                int p = ready.get(i);
                taps[i] = tap.queue(p);
                for (int r = 0; r < 2; r++) {
                    VirtQueue q = a.queues()[2 * p + r];
                    rings[2 * i + r] = q;
                    kicks[2 * i + r] = a.kicks()[q.index()];
                    EventFd direct = a.interrupts().queueEventFd(q.index());
                    if (direct == null) {
                        relayed++;
                    }
                    calls[2 * i + r] = direct != null ? direct : w.own(EventFd.create(name() + "-call" + q.index()),
                            TOKEN_RELAY + q.index());
                    errs[2 * i + r] = w.own(EventFd.create(name() + "-err" + q.index()), TOKEN_ERR + q.index());
                }
            }
            v.start(a.memory(), a.features(), rings, kicks, calls, errs, taps);
        } catch (RuntimeException e) {
            w.close();
            vhostFallback = e.getMessage();
            log.warn("{}: vhost-net cannot serve this device ({}); the VMM's own data plane serves it", name(), e.getMessage());
            return false;
        }
        vhost = v;
        workers.add(w);
        w.thread.start();
        log.info("{}: vhost-net serves {} queue pair(s){}", name(), n, relayed == 0 ? ", interrupts by irqfd"
                : ", " + relayed + " queue interrupt(s) relayed by the VMM");
        return true;
    }

    /**
     * Each thread finishes the frame it is on (tx writes and rx reads are synchronous), so once they stop no chain is
     * in flight; frames arriving meanwhile wait in the TAP's queue. vhost is stopped first: its rings go back to
     * their queues at the place it stopped.
     */
    @Override
    protected void stopWorkers() {
        if (vhost != null) {
            try {
                vhost.stop();
            } catch (RuntimeException e) {
                log.warn("{}: stopping vhost-net: {}", name(), e.toString());
            }
            vhost = null;
        }
        for (PairWorker w : workers) {
            w.close();
        }
        workers.clear();
    }

    @Override
    protected boolean workersRunning() {
        return !workers.isEmpty();
    }

    /**
     * Asks the guest to announce itself (VIRTIO_NET_S_ANNOUNCE and a configuration interrupt; the driver sends
     * gratuitous ARPs and acknowledges on the control queue), as after a migration, so that switches learn where
     * its MAC now is. Returns false when the driver did not negotiate VIRTIO_NET_F_GUEST_ANNOUNCE.
     */
    public synchronized boolean announce() {
        Activation a = activation();
        if (a == null || !a.has(VIRTIO_NET_F_GUEST_ANNOUNCE)) {
            return false;
        }
        setConfig(Config.STATUS, 2, readConfig(Config.STATUS, 2) | VIRTIO_NET_S_ANNOUNCE);
        a.interrupts().signalConfig();
        return true;
    }

    /** "VNET". */
    private static final int STATE_MAGIC = 0x564E4554;

    /** The configuration space, then (format 1) the MAC in use, the receive filter, the queue pairs and offloads. */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        super.saveState(out);
        StateCodec.header(out, STATE_MAGIC, 1);
        out.write(mac);
        filter.save(out);
        out.writeInt(activePairs);
        out.writeLong(offloads);
    }

    @Override
    public synchronized void restoreState(StateCodec.Reader in) throws IOException {
        super.restoreState(in);
        in.header(STATE_MAGIC, 1);
        byte[] m = new byte[6];
        for (int i = 0; i < 6; i++) {
            m[i] = (byte) in.readByte("mac");
        }
        filter.restore(in);
        int n = in.readInt("active_pairs", 1, pairs);
        long off = in.readLong("offloads");
        mac = m;
        activePairs = n;
        offloads = off;
    }

    private void setActivePairs(int n) {
        for (int q = 0; q < pairs; q++) {
            tap.setQueueEnabled(q, q < n);
        }
        activePairs = n;
    }

    @Override
    public synchronized void reset() {
        stopWorkers();
        setActivation(null);
        filter.reset();
        mac = readMacFromConfig();
    }

    private byte[] readMacFromConfig() {
        byte[] m = new byte[6];
        for (int i = 0; i < 6; i++) {
            m[i] = (byte) readConfig(Config.MAC + i, 1);
        }
        return m;
    }

    @Override
    public void close() {
        reset();
        tap.close();
    }

    /**
     * rx and tx of one queue pair (and the control queue on pair 0) on one thread; with vhost (rx and tx null), the
     * control queue and the eventfds vhost signals that this thread relays ({@link #own}).
     */
    private final class PairWorker implements AutoCloseable {
        final int pair;
        final DeviceWorker thread;
        final VirtQueue rx, tx, ctrl;
        final EventFd rxKick, txKick, ctrlKick;
        final Fd tapFd;
        final VirtioInterrupts irq;
        final GuestMemory mem;
        final boolean mrg;
        final Iovecs txIov = new Iovecs(QUEUE_SIZE);
        final NativeBuffer rxIov = new NativeBuffer(16L * RX_SEGMENTS);
        final int[] rxHeads = new int[QUEUE_SIZE];
        final long[] rxCap = new long[QUEUE_SIZE];
        final long[] rxHdrAddr = new long[QUEUE_SIZE];
        final NativeBuffer ctrlBuf = new NativeBuffer(4096);
        boolean tapWatched = true;
        /** vhost mode: the eventfds this thread relays or watches for errors, closed with it. */
        final List<EventFd> owned = new ArrayList<>();
        /** vhost mode: by token - TOKEN_RELAY (a relayed call) or token - TOKEN_ERR (an error eventfd). */
        final EventFd[] byQueue = new EventFd[2 * queueCount()];

        PairWorker(int pair, VirtQueue rx, VirtQueue tx, VirtQueue ctrl, Activation a, boolean mrg) {
            this.pair = pair;
            this.rx = rx;
            this.tx = tx;
            this.ctrl = ctrl;
            this.rxKick = rx == null ? null : a.kicks()[rx.index()];
            this.txKick = tx == null ? null : a.kicks()[tx.index()];
            this.ctrlKick = ctrl == null ? null : a.kicks()[ctrl.index()];
            this.tapFd = tap.queue(pair);
            this.irq = a.interrupts();
            this.mem = a.memory();
            this.mrg = mrg;
            this.thread = new DeviceWorker(pair == 0 ? name() : name() + "-q" + pair, this::ready, irq);
            if (rx != null) {
                thread.watch(rxKick, TOKEN_RX_KICK).watch(txKick, TOKEN_TX_KICK).watch(tapFd, TOKEN_TAP);
            }
            if (ctrlKick != null) {
                thread.watch(ctrlKick, TOKEN_CTRL);
            }
        }

        /** Watches {@code e} under {@code token} and closes it with this worker; returns it. */
        EventFd own(EventFd e, long token) {
            owned.add(e);
            byQueue[(int) (token >= TOKEN_ERR ? token - TOKEN_ERR + queueCount() : token - TOKEN_RELAY)] = e;
            thread.watch(e, token);
            return e;
        }

        void ready(long token, int events) {
            if (token >= TOKEN_ERR) {
                byQueue[(int) (token - TOKEN_ERR) + queueCount()].drain();
                throw new GuestProtocolException(GuestProtocolException.Reason.MALFORMED_REQUEST, name()
                        + ": vhost-net stopped queue " + (token - TOKEN_ERR) + " on a bad ring, descriptor or address");
            } else if (token >= TOKEN_RELAY) {
                int q = (int) (token - TOKEN_RELAY);
                byQueue[q].drain();
                irq.signalQueue(q);
            } else if (token == TOKEN_TX_KICK) {
                txKick.drain();
                transmit();
            } else if (token == TOKEN_RX_KICK) {
                rxKick.drain();
                if (!tapWatched) {
                    thread.setInterest(tapFd, TOKEN_TAP, true); // buffers again: resume reading the TAP
                    tapWatched = true;
                }
                receive();
            } else if (token == TOKEN_TAP) {
                receive();
            } else if (token == TOKEN_CTRL) {
                ctrlKick.drain();
                control();
            }
        }

        void transmit() {
            boolean any = false;
            DescriptorChain c;
            while ((c = tx.pop()) != null) {
                if (c.writableCount() != 0) {
                    throw new GuestProtocolException(GuestProtocolException.Reason.WRONG_DIRECTION, name()
                            + ": tx chain " + c.head() + " has device-writable descriptors");
                }
                if (c.readableBytes() < Hdr.SIZEOF) {
                    throw new GuestProtocolException(GuestProtocolException.Reason.MALFORMED_REQUEST, name()
                            + ": tx chain " + c.head() + " of " + c.readableBytes() + " bytes is shorter than the header");
                }
                txIov.fill(c, 0, c.count(), 0, 0);
                for (;;) {
                    long r = Native.LIBC.writev(tapFd.fd(), txIov.address(), txIov.count());
                    if (r >= 0) {
                        txPackets.incrementAndGet();
                        break;
                    }
                    if (Iovecs.interrupted(r)) {
                        continue;
                    }
                    // a frame the TAP refuses (bad GSO header, EAGAIN on a full queue) is dropped, as a NIC would
                    long n = txErrors.incrementAndGet();
                    if (n <= 10 || Long.bitCount(n) == 1) {
                        log.warn("{}: tx writev to {} failed: errno {} ({} so far)", name(), tap.name(), Native.errno(), n);
                    }
                    break;
                }
                tx.addUsed(c.head(), 0);
                any = true;
            }
            if (any && tx.needsInterrupt()) {
                irq.signalQueue(tx.index());
            }
        }

        /** Reads frames from the TAP into rx buffers until the TAP or the buffers run out (max 64 per call). */
        void receive() {
            boolean any = false;
            for (int frames = 0; frames < 64; frames++) {
                int chains = 0, segs = 0;
                long cap = 0;
                DescriptorChain c;
                // gather enough buffers for the largest frame (one chain without MRG_RXBUF)
                while (cap < MAX_RX && chains < QUEUE_SIZE && (c = rx.pop()) != null) {
                    if (c.readableCount() != 0) {
                        rx.undoPop();
                        undo(chains);
                        throw new GuestProtocolException(GuestProtocolException.Reason.WRONG_DIRECTION, name()
                                + ": rx chain " + c.head() + " has device-readable descriptors");
                    }
                    if (c.length(0) < Hdr.SIZEOF || segs + c.count() > RX_SEGMENTS) {
                        rx.undoPop();
                        if (c.length(0) < Hdr.SIZEOF) {
                            undo(chains);
                            throw new GuestProtocolException(GuestProtocolException.Reason.MALFORMED_REQUEST, name()
                                    + ": rx buffer " + c.head() + " cannot hold the 12-byte header in its first descriptor");
                        }
                        break;
                    }
                    rxHeads[chains] = c.head();
                    rxCap[chains] = c.writableBytes();
                    rxHdrAddr[chains] = c.address(0);
                    for (int i = 0; i < c.count(); i++) {
                        rxIov.putLong(16L * segs, c.address(i));
                        rxIov.putLong(16L * segs + 8, c.length(i));
                        segs++;
                    }
                    cap += c.writableBytes();
                    chains++;
                    if (!mrg) {
                        break;
                    }
                }
                if (chains == 0) {
                    // no buffers: stop watching the TAP until the driver adds some (rx kick)
                    if (tapWatched) {
                        thread.setInterest(tapFd, TOKEN_TAP, false);
                        tapWatched = false;
                    }
                    break;
                }
                long n;
                do {
                    n = Native.LIBC.readv(tapFd.fd(), rxIov.address(), segs);
                } while (Iovecs.interrupted(n));
                if (n <= 0) {
                    undo(chains);
                    if (n < 0 && Native.errno() != Errno.EAGAIN) {
                        log.warn("{}: rx readv from {} failed: errno {}", name(), tap.name(), Native.errno());
                    }
                    break;
                }
                if (!filter.acceptsAll() && n - Hdr.SIZEOF >= 6 && !filter.accept(destinationMac(segs), mac)) {
                    markReceived(segs, n); // guest RAM all the same
                    undo(chains); // the buffers were only scribbled on; the driver gets them back later
                    rxDropped.incrementAndGet();
                    continue;
                }
                int used = 0;
                long left = n;
                while (left > 0 && used < chains) {
                    left -= Math.min(left, rxCap[used]);
                    used++;
                }
                Native.putShort(rxHdrAddr[0] + Hdr.NUM_BUFFERS, (short) used);
                markReceived(segs, Math.max(n, Hdr.SIZEOF)); // the frame and num_buffers, before the chains go back
                left = n;
                for (int i = 0; i < used; i++) {
                    long len = Math.min(left, rxCap[i]);
                    rx.addUsed(rxHeads[i], len);
                    left -= len;
                }
                undo(chains - used);
                rxPackets.incrementAndGet();
                any = true;
            }
            if (any && rx.needsInterrupt()) {
                irq.signalQueue(rx.index());
            }
        }

        /**
         * The destination MAC of the frame readv just put in the gathered segments: the 6 bytes after the 12-byte
         * header, wherever they are (the header may fill the first descriptor, or the first chain, alone). The frame
         * must be at least 6 bytes long.
         */
        private long destinationMac(int segs) {
            long v = 0, skip = Hdr.SIZEOF;
            int got = 0;
            for (int i = 0; i < segs && got < 6; i++) {
                long a = rxIov.getLong(16L * i), l = rxIov.getLong(16L * i + 8);
                for (long o = skip; o < l && got < 6; o++, got++) {
                    v = v << 8 | (Native.getByte(a + o) & 0xff);
                }
                skip = Math.max(0, skip - l);
            }
            return v;
        }

        /**
         * Marks the first {@code n} bytes of the gathered rx segments (what readv wrote, in the chains it used) dirty
         * for migration. One volatile read while dirty logging is off.
         */
        private void markReceived(int segs, long n) {
            if (!mem.dirtyLogging()) {
                return;
            }
            for (int i = 0; i < segs && n > 0; i++) {
                long l = Math.min(rxIov.getLong(16L * i + 8), n);
                mem.markDirtyHost(rxIov.getLong(16L * i), l);
                n -= l;
            }
        }

        private void undo(int chains) {
            for (int i = 0; i < chains; i++) {
                rx.undoPop();
            }
        }

        void control() {
            boolean any = false;
            DescriptorChain c;
            while ((c = ctrl.pop()) != null) {
                int n = c.count();
                if (c.writableCount() == 0 || c.readableBytes() < 2 || c.readableBytes() > ctrlBuf.size()) {
                    throw new GuestProtocolException(GuestProtocolException.Reason.MALFORMED_REQUEST, name()
                            + ": control command needs a class/cmd header and a writable ack byte");
                }
                txIov.fill(c, 0, c.readableCount(), 0, 0);
                int len = (int) c.readableBytes();
                txIov.copyOut(0, ctrlBuf.address(), len);
                int ack = command(ctrlBuf.getByte(0) & 0xff, ctrlBuf.getByte(1) & 0xff, len - 2);
                Native.putByte(c.address(n - 1) + c.length(n - 1) - 1, (byte) ack);
                ctrl.addUsed(c, 1); // marks the ack byte's segment for migration
                any = true;
            }
            if (any && ctrl.needsInterrupt()) {
                irq.signalQueue(ctrl.index());
            }
        }

        /** One control command (§5.1.6.5); data is at ctrlBuf offset 2. Returns VIRTIO_NET_OK or ERR. */
        int command(int cls, int cmd, int len) {
            switch (cls) {
                case VIRTIO_NET_CTRL_RX -> {
                    if (len != 1 || cmd > VIRTIO_NET_CTRL_RX_NOBCAST) {
                        return VIRTIO_NET_ERR;
                    }
                    filter.setMode(cmd, ctrlBuf.getByte(2) != 0);
                    return VIRTIO_NET_OK;
                }
                case VIRTIO_NET_CTRL_MAC -> {
                    if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET && len == 6) {
                        byte[] m = new byte[6];
                        ctrlBuf.get(2, m, 0, 6);
                        setConfigBytes(Config.MAC, m);
                        mac = m;
                        return VIRTIO_NET_OK;
                    }
                    if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET) {
                        return filter.setTables(ctrlBuf, 2, len) ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
                    }
                    return VIRTIO_NET_ERR;
                }
                case VIRTIO_NET_CTRL_ANNOUNCE -> {
                    if (cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK || len != 0) {
                        return VIRTIO_NET_ERR;
                    }
                    setConfig(Config.STATUS, 2, readConfig(Config.STATUS, 2) & ~VIRTIO_NET_S_ANNOUNCE);
                    return VIRTIO_NET_OK;
                }
                case VIRTIO_NET_CTRL_MQ -> {
                    int n = len == 2 ? ctrlBuf.getShort(2) & 0xffff : 0;
                    if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || n < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n > pairs) {
                        return VIRTIO_NET_ERR;
                    }
                    setActivePairs(n);
                    return VIRTIO_NET_OK;
                }
                case VIRTIO_NET_CTRL_GUEST_OFFLOADS -> {
                    if (cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET || len != 8) {
                        return VIRTIO_NET_ERR;
                    }
                    applyOffloads(ctrlBuf.getLong(2));
                    return VIRTIO_NET_OK;
                }
                default -> {
                    return VIRTIO_NET_ERR;
                }
            }
        }

        @Override
        public void close() {
            thread.close();
            owned.forEach(EventFd::close);
            txIov.close();
            rxIov.close();
            ctrlBuf.close();
        }
    }
}

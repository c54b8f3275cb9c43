package dev.jvmm.virtio.vhost;

import static dev.jvmm.sys.vhost.uapi.VhostConstants.VHOST_FILE_UNBIND;
import static dev.jvmm.sys.vhost.uapi.VhostConstants.VIRTIO_F_VERSION_1;
import static dev.jvmm.sys.vhost.uapi.VhostConstants.VIRTIO_RING_F_EVENT_IDX;
import static dev.jvmm.sys.vhost.uapi.VhostConstants.VIRTIO_RING_F_INDIRECT_DESC;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.vhost.VhostFd;
import dev.jvmm.virtio.VirtQueue;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The vhost-net data plane of one virtio-net device: the kernel's vhost worker moves frames between the guest's rx
 * and tx rings and the TAP, so no frame passes through the JVM. One {@code /dev/vhost-net} fd per queue pair (its
 * ring 0 is the pair's receiveq, ring 1 its transmitq), each started as QEMU and crosvm do: SET_OWNER, features,
 * the memory table, then per ring its size, base, addresses, kick and call eventfds, and last the TAP queue as its
 * backend.
 *
 * <p>The kick eventfds are the queues' own, which the transport registers as KVM ioeventfds, so a guest's notify
 * write wakes the vhost worker with no VM exit to userspace. The call eventfds are what the caller passes: a
 * queue's MSI-X irqfd (the interrupt then never leaves the kernel) or an eventfd the device relays.
 *
 * <p>Migration: dirty logging follows the {@link GuestMemory}'s, through {@link VhostRings} (shared with vhost-vsock).
 *
 * <p>{@link #stop()} detaches the backends (which waits for the worker to finish what it is on), reads each ring's
 * next available index back into its {@link VirtQueue} ({@link VirtQueue#resumeAt}) and closes the fds, so the
 * queues' state can be saved, or served by the userspace device, from there.
 */
public final class VhostNet {
    private static final Logger log = LoggerFactory.getLogger(VhostNet.class);
    /** virtio-net's VIRTIO_NET_F_MRG_RXBUF (§5.1.3), a feature the vhost-net device implements. */
    private static final int VIRTIO_NET_F_MRG_RXBUF = 15;
    /** The negotiated features vhost-net acts on; the offloads and control features are the TAP's and the VMM's. */
    static final long RING_FEATURES = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX
            | 1L << VIRTIO_RING_F_INDIRECT_DESC | 1L << VIRTIO_NET_F_MRG_RXBUF;

    private final String name;
    private final Supplier<VhostFd> opener;
    private final List<VhostFd> fds = new ArrayList<>();
    private final VhostRings shared;
    private VirtQueue[] rings;
    /** Pairs whose rings got their backend (vhost may have moved them: their place is read back by stop). */
    private int attached;

    /** @param opener opens one {@code /dev/vhost-net} fd per call (normally {@link VhostFd#open()}) */
    public VhostNet(String name, Supplier<VhostFd> opener) {
        this.name = name;
        this.opener = opener;
        this.shared = new VhostRings(name, "vhost-net");
    }

    /**
     * The vhost features to set for a driver that negotiated {@code guestFeatures}, out of what vhost offers.
     *
     * @throws IllegalStateException when the driver negotiated a ring feature this vhost lacks
     */
    static long vhostFeatures(long guestFeatures, long offered) {
        return VhostRings.vhostFeatures("vhost-net", guestFeatures, RING_FEATURES, offered);
    }

    /**
     * Starts serving {@code rings} (rx and tx of each queue pair, in that order) through vhost: pair {@code p} gets
     * the TAP queue {@code taps[p]}, and ring {@code i} the kick {@code kicks[i]}, the call {@code calls[i]} and the
     * error eventfd {@code errs[i]}. Each ring starts at its queue's next available index (0 after a driver's
     * activation; the saved one after a restore). On failure everything done is undone and the error is thrown.
     */
    public synchronized void start(GuestMemory mem, long guestFeatures, VirtQueue[] rings, EventFd[] kicks,
            EventFd[] calls, EventFd[] errs, Fd[] taps) {
        if (!fds.isEmpty()) {
            throw new IllegalStateException(name + ": vhost-net is running already");
        }
        this.rings = rings;
        try {
            for (int p = 0; p < taps.length; p++) {
                VhostFd v = opener.get();
                fds.add(v);
                v.setOwner();
                if (p == 0) {
                    shared.begin(mem, vhostFeatures(guestFeatures, v.getFeatures()));
                }
                shared.configure(v, pair(rings, p), pair(kicks, p), pair(calls, p), pair(errs, p));
            }
            for (int p = 0; p < taps.length; p++) {
                attached = p + 1;
                fds.get(p).netSetBackend(0, taps[p].fd());
                fds.get(p).netSetBackend(1, taps[p].fd());
            }
        } catch (RuntimeException e) {
            try {
                stop();
            } catch (RuntimeException e2) {
                e.addSuppressed(e2);
            }
            throw e;
        }
        log.debug("{}: vhost-net serves {} queue pair(s), features 0x{}", name, taps.length,
                Long.toHexString(shared.features()));
    }

    private static <T> T[] pair(T[] all, int p) {
        return java.util.Arrays.copyOfRange(all, 2 * p, 2 * p + 2);
    }

    /** Whether vhost serves the rings now. */
    public synchronized boolean running() {
        return !fds.isEmpty();
    }

    /**
     * Stops every ring and hands it back: detaches the backend, reads where the ring stopped into its queue
     * ({@link VirtQueue#resumeAt}) and closes the fd. Every fd is closed even when a request fails (the first
     * failure is thrown after). Idempotent.
     */
    public synchronized void stop() {
        shared.end();
        RuntimeException first = null;
        for (int p = 0; p < fds.size(); p++) {
            VhostFd v = fds.get(p);
            try {
                if (p >= attached) {
                    continue; // never started: its queues keep their place (the fd is closed below all the same)
                }
                v.netSetBackend(0, VHOST_FILE_UNBIND);
                v.netSetBackend(1, VHOST_FILE_UNBIND);
                VhostRings.readBack(v, pair(rings, p));
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            } finally {
                v.close();
            }
        }
        fds.clear();
        attached = 0;
        rings = null;
        if (first != null) {
            throw first;
        }
    }
}

package dev.jvmm.virtio.vhost;

import static dev.jvmm.sys.vhost.uapi.VhostConstants.VIRTIO_F_VERSION_1;
import static dev.jvmm.sys.vhost.uapi.VhostConstants.VIRTIO_RING_F_EVENT_IDX;
import static dev.jvmm.sys.vhost.uapi.VhostConstants.VIRTIO_RING_F_INDIRECT_DESC;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.vhost.VhostFd;
import dev.jvmm.virtio.VirtQueue;
import dev.jvmm.virtio.vsock.VsockBackend;
import dev.jvmm.virtio.vsock.VirtioVsock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The vhost-vsock data plane of a virtio-vsock device: one {@code /dev/vhost-vsock} fd whose ring 0 is the rx queue
 * and ring 1 the tx queue; the kernel moves the guest's packets between them and the host's AF_VSOCK sockets, so the
 * host reaches the guest at its CID and the guest the host at CID 2, with no byte passing through the JVM.
 *
 * <p>Made as QEMU does it: the fd is opened, owned ({@code VHOST_SET_OWNER}) and given the guest's CID
 * ({@code VHOST_VSOCK_SET_GUEST_CID}) when the VM is built, so a CID another VM holds fails the launch (EADDRINUSE)
 * and the CID stays this VM's until {@link #close()}. Each driver activation then sets the features, the memory
 * table and the rings ({@link VhostRings}, shared with vhost-net, which also follows dirty logging for migration:
 * vhost-vsock offers VHOST_F_LOG_ALL) and {@code VHOST_VSOCK_SET_RUNNING 1}; {@link #stop()} sets it to 0 and reads the
 * rings' places back, and the fd stays owned for the next activation.
 */
public final class VhostVsock implements VsockBackend {
    private static final Logger log = LoggerFactory.getLogger(VhostVsock.class);
    /** The negotiated features vhost-vsock acts on: the ring features and VIRTIO_VSOCK_F_SEQPACKET. */
    static final long RING_FEATURES = 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_EVENT_IDX
            | 1L << VIRTIO_RING_F_INDIRECT_DESC | 1L << VirtioVsock.VIRTIO_VSOCK_F_SEQPACKET;

    private final String name;
    private final VhostFd fd;
    private final long cid;
    private final long offered;
    private final VhostRings shared;
    private VirtQueue[] rings;
    private boolean running;

    /**
     * Takes {@code fd} (a fresh {@code /dev/vhost-vsock} fd, owned from here on and closed also when this fails):
     * makes this process its owner and gives it the guest CID {@code cid}.
     *
     * @throws IllegalArgumentException for a CID no guest may have (0, 1, 2, 2^32-1 and above)
     * @throws dev.jvmm.sys.ErrnoException when the kernel refuses, e.g. {@code VHOST_VSOCK_SET_GUEST_CID} EADDRINUSE
     *         (another VM on this host has this CID)
     */
    public VhostVsock(String name, VhostFd fd, long cid) {
        this.name = name;
        this.fd = fd;
        this.cid = cid;
        this.shared = new VhostRings(name, "vhost-vsock");
        try {
            VirtioVsock.checkCid(cid);
            fd.setOwner();
            fd.vsockSetGuestCid(cid);
            this.offered = fd.getFeatures();
        } catch (RuntimeException | Error e) {
            fd.close();
            throw e;
        }
    }

    /** Opens {@link VhostFd#DEV_VHOST_VSOCK} for guest CID {@code cid}; the error names {@code modprobe vhost_vsock} when it is missing. */
    public static VhostVsock open(String name, long cid) {
        VirtioVsock.checkCid(cid);
        return new VhostVsock(name, VhostFd.openVsock(), cid);
    }

    @Override
    public long guestCid() {
        return cid;
    }

    @Override
    public long deviceFeatures() {
        return offered & 1L << VirtioVsock.VIRTIO_VSOCK_F_SEQPACKET;
    }

    /** The vhost features for a driver that negotiated {@code guestFeatures}, out of what vhost-vsock offers. */
    static long vhostFeatures(long guestFeatures, long offered) {
        return VhostRings.vhostFeatures("vhost-vsock", guestFeatures, RING_FEATURES, offered);
    }

    @Override
    public synchronized void start(GuestMemory memory, long features, VirtQueue[] rings, EventFd[] kicks,
            EventFd[] calls, EventFd[] errs) {
        if (this.rings != null) {
            throw new IllegalStateException(name + ": vhost-vsock is running already");
        }
        this.rings = rings.clone();
        try {
            shared.begin(memory, vhostFeatures(features, offered));
            shared.configure(fd, rings, kicks, calls, errs);
            running = true; // from here the rings may have moved: stop reads them back
            fd.vsockSetRunning(true);
        } catch (RuntimeException e) {
            try {
                stop();
            } catch (RuntimeException e2) {
                e.addSuppressed(e2);
            }
            throw e;
        }
        log.debug("{}: vhost-vsock serves cid {}, features 0x{}", name, cid, Long.toHexString(shared.features()));
    }

    @Override
    public synchronized void stop() {
        shared.end();
        try {
            if (running && fd.fd().isOpen()) {
                fd.vsockSetRunning(false);
                VhostRings.readBack(fd, rings);
            }
        } finally {
            running = false;
            rings = null;
        }
    }

    @Override
    public synchronized void close() {
        try {
            stop();
        } finally {
            fd.close(); // the kernel drops the CID with the fd
        }
    }
}

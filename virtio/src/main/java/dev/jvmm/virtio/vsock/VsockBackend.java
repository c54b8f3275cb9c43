package dev.jvmm.virtio.vsock;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.EventFd;
import dev.jvmm.virtio.VirtQueue;

/**
 * What serves a virtio-vsock device's rx and tx queues (the data path; the event queue stays with {@link VirtioVsock}):
 * the kernel's vhost-vsock in a VM ({@link dev.jvmm.virtio.vhost.VhostVsock}), a fake in tests. The guest's CID is
 * the backend's: it is taken when the backend is made (a CID another VM holds fails then), and held until close.
 */
public interface VsockBackend extends AutoCloseable {
    /** The guest's CID (3 or more, below 2^32-1). */
    long guestCid();

    /** The virtio-vsock device features the backend can serve (e.g. VIRTIO_VSOCK_F_SEQPACKET), besides the ring ones. */
    long deviceFeatures();

    /**
     * Starts serving {@code rings} (rx, tx) for a driver that negotiated {@code features}; ring {@code i} is kicked by
     * {@code kicks[i]}, signals {@code calls[i]} when it used buffers and {@code errs[i]} when it meets a bad ring.
     * Each ring starts at its queue's next available index. On failure nothing is left running and the error is thrown.
     */
    void start(GuestMemory memory, long features, VirtQueue[] rings, EventFd[] kicks, EventFd[] calls, EventFd[] errs);

    /** Stops the rings, if started, and reads where each stopped into its queue. Idempotent. */
    void stop();

    /** Stops and releases the backend (and its CID). Idempotent. */
    @Override
    void close();
}

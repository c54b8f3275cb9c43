package dev.jvmm.sys.vhost.uapi;

import dev.jvmm.sys.Ioctl;
import dev.jvmm.sys.uapi.CConstants;

/**
 * vhost ioctl request numbers ({@code <linux/vhost.h>}), encoded from their argument types as the header does;
 * each is checked against the header by HeaderLayoutTest and VhostAbiTest. Every one but {@link #VHOST_SET_OWNER}
 * and {@link #VHOST_RESET_OWNER} takes a pointer to its argument, even the plain {@code __u64} and {@code int} ones.
 */
@CConstants(headers = "linux/vhost.h")
public final class VhostIoctls {
    private VhostIoctls() {
    }

    /** The ioctl type of every vhost request ({@code 0xAF}). */
    public static final int VHOST_VIRTIO = 0xAF;

    private static final int U64 = 8;
    private static final int INT = 4;

    /** {@code _IOR(VHOST_VIRTIO, 0x00, __u64)}: the feature bits the device offers. */
    public static final long VHOST_GET_FEATURES = Ioctl.ior(VHOST_VIRTIO, 0x00, U64);
    /** {@code _IOW(VHOST_VIRTIO, 0x00, __u64)}: the feature bits to use (a subset of those offered). */
    public static final long VHOST_SET_FEATURES = Ioctl.iow(VHOST_VIRTIO, 0x00, U64);
    /** {@code _IO(VHOST_VIRTIO, 0x01)}: makes the calling process the fd's owner; must precede the other requests. */
    public static final long VHOST_SET_OWNER = Ioctl.io(VHOST_VIRTIO, 0x01);
    /** {@code _IO(VHOST_VIRTIO, 0x02)}: gives up ownership and resets the device. */
    public static final long VHOST_RESET_OWNER = Ioctl.io(VHOST_VIRTIO, 0x02);
    /** {@code _IOW(VHOST_VIRTIO, 0x03, struct vhost_memory)}: the guest-physical to host-virtual memory table. */
    public static final long VHOST_SET_MEM_TABLE = Ioctl.iow(VHOST_VIRTIO, 0x03, VhostMemory.SIZEOF);
    /** {@code _IOW(VHOST_VIRTIO, 0x04, __u64)}: host address of the dirty log bitmap. */
    public static final long VHOST_SET_LOG_BASE = Ioctl.iow(VHOST_VIRTIO, 0x04, U64);
    /** {@code _IOW(VHOST_VIRTIO, 0x07, int)}: an eventfd signalled when the device writes the log. */
    public static final long VHOST_SET_LOG_FD = Ioctl.iow(VHOST_VIRTIO, 0x07, INT);
    /** {@code _IOW(VHOST_VIRTIO, 0x10, struct vhost_vring_state)}: a ring's size (descriptors). */
    public static final long VHOST_SET_VRING_NUM = Ioctl.iow(VHOST_VIRTIO, 0x10, VhostVringState.SIZEOF);
    /** {@code _IOW(VHOST_VIRTIO, 0x11, struct vhost_vring_addr)}: a ring's descriptor, used and avail addresses. */
    public static final long VHOST_SET_VRING_ADDR = Ioctl.iow(VHOST_VIRTIO, 0x11, VhostVringAddr.SIZEOF);
    /** {@code _IOW(VHOST_VIRTIO, 0x12, struct vhost_vring_state)}: the avail index a ring starts from. */
    public static final long VHOST_SET_VRING_BASE = Ioctl.iow(VHOST_VIRTIO, 0x12, VhostVringState.SIZEOF);
    /** {@code _IOWR(VHOST_VIRTIO, 0x12, struct vhost_vring_state)}: the avail index a ring has reached. */
    public static final long VHOST_GET_VRING_BASE = Ioctl.iowr(VHOST_VIRTIO, 0x12, VhostVringState.SIZEOF);
    /** {@code _IOW(VHOST_VIRTIO, 0x20, struct vhost_vring_file)}: the eventfd the guest kicks (ioeventfd). */
    public static final long VHOST_SET_VRING_KICK = Ioctl.iow(VHOST_VIRTIO, 0x20, VhostVringFile.SIZEOF);
    /** {@code _IOW(VHOST_VIRTIO, 0x21, struct vhost_vring_file)}: the eventfd the device signals (irqfd). */
    public static final long VHOST_SET_VRING_CALL = Ioctl.iow(VHOST_VIRTIO, 0x21, VhostVringFile.SIZEOF);
    /** {@code _IOW(VHOST_VIRTIO, 0x22, struct vhost_vring_file)}: the eventfd the device signals on a ring error. */
    public static final long VHOST_SET_VRING_ERR = Ioctl.iow(VHOST_VIRTIO, 0x22, VhostVringFile.SIZEOF);
    /** {@code _IOW(VHOST_VIRTIO, 0x25, __u64)}: the backend features to use ({@code VHOST_BACKEND_F_*}). */
    public static final long VHOST_SET_BACKEND_FEATURES = Ioctl.iow(VHOST_VIRTIO, 0x25, U64);
    /** {@code _IOR(VHOST_VIRTIO, 0x26, __u64)}: the backend features offered ({@code VHOST_BACKEND_F_*}). */
    public static final long VHOST_GET_BACKEND_FEATURES = Ioctl.ior(VHOST_VIRTIO, 0x26, U64);
    /** {@code _IOW(VHOST_VIRTIO, 0x30, struct vhost_vring_file)}: attaches a ring to a TAP (or socket); fd -1 detaches. */
    public static final long VHOST_NET_SET_BACKEND = Ioctl.iow(VHOST_VIRTIO, 0x30, VhostVringFile.SIZEOF);

    /** {@code _IOW(VHOST_VIRTIO, 0x60, __u64)}: the guest's CID of a vhost-vsock device (EADDRINUSE: another VM has it). */
    public static final long VHOST_VSOCK_SET_GUEST_CID = Ioctl.iow(VHOST_VIRTIO, 0x60, U64);
    /** {@code _IOW(VHOST_VIRTIO, 0x61, int)}: 1 starts a vhost-vsock device's rings, 0 stops them. */
    public static final long VHOST_VSOCK_SET_RUNNING = Ioctl.iow(VHOST_VIRTIO, 0x61, INT);
}

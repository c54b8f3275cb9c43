package dev.jvmm.sys.vhost.uapi;

import dev.jvmm.sys.uapi.CConstants;

/**
 * vhost constants ({@code <linux/vhost.h>}, {@code <linux/vhost_types.h>}) and the virtio transport feature bits a
 * vhost-net device is negotiated with ({@code <linux/virtio_config.h>}, {@code <linux/virtio_ring.h>}, which
 * {@code <linux/vhost_types.h>} includes); each is checked against the headers. Feature constants are bit numbers
 * ({@code 1L << VHOST_F_LOG_ALL}), as in the headers. The virtio bits repeat {@code dev.jvmm.virtio.VirtioConstants}
 * because sys sits below the virtio module.
 */
@CConstants(headers = "linux/vhost.h")
public final class VhostConstants {
    private VhostConstants() {
    }

    /** {@code vhost_vring_file.fd} that unbinds the eventfd or backend. */
    public static final int VHOST_FILE_UNBIND = -1;
    /** Granularity of the dirty log: one bit per 4 KiB page. */
    public static final int VHOST_PAGE_SIZE = 0x1000;

    /** Feature bit: log every write the device makes to guest memory (migration); may change while running. */
    public static final int VHOST_F_LOG_ALL = 26;
    /** Feature bit: vhost-net adds the virtio-net header on RX and strips it on TX (the TAP has none). */
    public static final int VHOST_NET_F_VIRTIO_NET_HDR = 27;
    /** Bit number in {@code vhost_vring_addr.flags}: {@code log_guest_addr} is valid and used-ring writes are logged. */
    public static final int VHOST_VRING_F_LOG = 0;

    /** Backend feature bit: IOTLB messages of type V2 ({@code struct vhost_msg_v2}). */
    public static final int VHOST_BACKEND_F_IOTLB_MSG_V2 = 0x1;
    /** Backend feature bit: IOTLB updates can be batched. */
    public static final int VHOST_BACKEND_F_IOTLB_BATCH = 0x2;

    /** Virtio feature bit: descriptors may point to indirect descriptor tables. */
    public static final int VIRTIO_RING_F_INDIRECT_DESC = 28;
    /** Virtio feature bit: {@code used_event} / {@code avail_event} notification suppression. */
    public static final int VIRTIO_RING_F_EVENT_IDX = 29;
    /** Virtio feature bit: the virtio 1.x (non-legacy) interface; little-endian rings and a 12-byte net header. */
    public static final int VIRTIO_F_VERSION_1 = 32;
    /**
     * Virtio feature bit: the device accesses memory through the platform's IOMMU. With vhost it makes the kernel
     * translate addresses through a device IOTLB that the VMM must fill (IOTLB messages on the vhost fd), which jvmm
     * does not do.
     */
    public static final int VIRTIO_F_ACCESS_PLATFORM = 33;
}

package dev.jvmm.virtio;

import dev.jvmm.sys.uapi.CConstants;

/** Device status bits and transport feature bits (virtio 1.2 §2.1, §6); checked against the Linux UAPI headers. */
@CConstants(headers = {"linux/virtio_config.h", "linux/virtio_ring.h"})
public final class VirtioConstants {
    private VirtioConstants() {
    }

    public static final int VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
    public static final int VIRTIO_CONFIG_S_DRIVER = 2;
    public static final int VIRTIO_CONFIG_S_DRIVER_OK = 4;
    public static final int VIRTIO_CONFIG_S_FEATURES_OK = 8;
    public static final int VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
    public static final int VIRTIO_CONFIG_S_FAILED = 0x80;

    public static final int VIRTIO_RING_F_INDIRECT_DESC = 28;
    public static final int VIRTIO_RING_F_EVENT_IDX = 29;
    public static final int VIRTIO_F_VERSION_1 = 32;
    public static final int VIRTIO_F_ACCESS_PLATFORM = 33;
}

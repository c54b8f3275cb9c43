package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.Ioctl;
import dev.jvmm.sys.uapi.CConstants;

/**
 * VFIO ioctl request numbers; each is checked against {@code <linux/vfio.h>}. VFIO encodes no size or direction in
 * its numbers ({@code _IO(VFIO_TYPE, VFIO_BASE + n)}): the structs carry their own {@code argsz}.
 */
@CConstants(headers = "linux/vfio.h")
public final class VfioIoctls {
    /** {@code ';'}. */
    public static final int VFIO_TYPE = ';';
    public static final int VFIO_BASE = 100;

    // container (/dev/vfio/vfio)
    public static final long VFIO_GET_API_VERSION = Ioctl.io(VFIO_TYPE, VFIO_BASE);
    public static final long VFIO_CHECK_EXTENSION = Ioctl.io(VFIO_TYPE, VFIO_BASE + 1);
    public static final long VFIO_SET_IOMMU = Ioctl.io(VFIO_TYPE, VFIO_BASE + 2);
    // group (/dev/vfio/N)
    public static final long VFIO_GROUP_GET_STATUS = Ioctl.io(VFIO_TYPE, VFIO_BASE + 3);
    public static final long VFIO_GROUP_SET_CONTAINER = Ioctl.io(VFIO_TYPE, VFIO_BASE + 4);
    public static final long VFIO_GROUP_UNSET_CONTAINER = Ioctl.io(VFIO_TYPE, VFIO_BASE + 5);
    public static final long VFIO_GROUP_GET_DEVICE_FD = Ioctl.io(VFIO_TYPE, VFIO_BASE + 6);
    // device
    public static final long VFIO_DEVICE_GET_INFO = Ioctl.io(VFIO_TYPE, VFIO_BASE + 7);
    public static final long VFIO_DEVICE_GET_REGION_INFO = Ioctl.io(VFIO_TYPE, VFIO_BASE + 8);
    public static final long VFIO_DEVICE_GET_IRQ_INFO = Ioctl.io(VFIO_TYPE, VFIO_BASE + 9);
    public static final long VFIO_DEVICE_SET_IRQS = Ioctl.io(VFIO_TYPE, VFIO_BASE + 10);
    public static final long VFIO_DEVICE_RESET = Ioctl.io(VFIO_TYPE, VFIO_BASE + 11);
    // type1 IOMMU (container)
    public static final long VFIO_IOMMU_GET_INFO = Ioctl.io(VFIO_TYPE, VFIO_BASE + 12);
    public static final long VFIO_IOMMU_MAP_DMA = Ioctl.io(VFIO_TYPE, VFIO_BASE + 13);
    public static final long VFIO_IOMMU_UNMAP_DMA = Ioctl.io(VFIO_TYPE, VFIO_BASE + 14);

    private VfioIoctls() {
    }
}

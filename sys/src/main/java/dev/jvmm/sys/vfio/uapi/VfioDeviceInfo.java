package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_device_info} ({@code <linux/vfio.h>}), the argument of {@code VFIO_DEVICE_GET_INFO}.
 * <pre>
 * struct vfio_device_info { __u32 argsz; __u32 flags; __u32 num_regions; __u32 num_irqs; __u32 cap_offset; };
 * </pre>
 */
@CStruct(value = "struct vfio_device_info", headers = "linux/vfio.h")
public final class VfioDeviceInfo {
    private VfioDeviceInfo() {
    }

    @Sizeof public static final int SIZEOF = 20;
    @Offsetof("argsz") public static final int ARGSZ = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("num_regions") public static final int NUM_REGIONS = 8;
    @Offsetof("num_irqs") public static final int NUM_IRQS = 12;
    @Offsetof("cap_offset") public static final int CAP_OFFSET = 16;
}

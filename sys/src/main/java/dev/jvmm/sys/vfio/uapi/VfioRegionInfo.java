package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_region_info} ({@code <linux/vfio.h>}), the argument of
 * {@code VFIO_DEVICE_GET_REGION_INFO}.
 * <pre>
 * struct vfio_region_info { __u32 argsz; __u32 flags; __u32 index; __u32 cap_offset; __u64 size; __u64 offset; };
 * </pre>
 */
@CStruct(value = "struct vfio_region_info", headers = "linux/vfio.h")
public final class VfioRegionInfo {
    private VfioRegionInfo() {
    }

    @Sizeof public static final int SIZEOF = 32;
    @Offsetof("argsz") public static final int ARGSZ = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("index") public static final int INDEX = 8;
    @Offsetof("cap_offset") public static final int CAP_OFFSET = 12;
    @Offsetof("size") public static final int SIZE = 16;
    @Offsetof("offset") public static final int OFFSET = 24;
}

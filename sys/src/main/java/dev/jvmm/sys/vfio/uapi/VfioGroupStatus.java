package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_group_status} ({@code <linux/vfio.h>}), the argument of {@code VFIO_GROUP_GET_STATUS}.
 * <pre>
 * struct vfio_group_status { __u32 argsz; __u32 flags; };
 * </pre>
 */
@CStruct(value = "struct vfio_group_status", headers = "linux/vfio.h")
public final class VfioGroupStatus {
    private VfioGroupStatus() {
    }

    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("argsz") public static final int ARGSZ = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
}

package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_info_cap_header} ({@code <linux/vfio.h>}): one link of the capability chains of
 * {@code VFIO_DEVICE_GET_REGION_INFO} and {@code VFIO_IOMMU_GET_INFO}; {@code next} is an offset from the start of
 * the info struct, 0 at the end.
 * <pre>
 * struct vfio_info_cap_header { __u16 id; __u16 version; __u32 next; };
 * </pre>
 */
@CStruct(value = "struct vfio_info_cap_header", headers = "linux/vfio.h")
public final class VfioInfoCapHeader {
    private VfioInfoCapHeader() {
    }

    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("id") public static final int ID = 0;
    @Offsetof("version") public static final int VERSION = 2;
    @Offsetof("next") public static final int NEXT = 4;
}

package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_iommu_type1_info} ({@code <linux/vfio.h>}), the argument of {@code VFIO_IOMMU_GET_INFO}.
 * With {@code VFIO_IOMMU_INFO_CAPS} set, a chain of {@link VfioInfoCapHeader}s follows at {@code cap_offset}
 * (from the start of the struct); the kernel raises {@code argsz} to the size the chain needs.
 * <pre>
 * struct vfio_iommu_type1_info { __u32 argsz; __u32 flags; __u64 iova_pgsizes; __u32 cap_offset; __u32 pad; };
 * </pre>
 */
@CStruct(value = "struct vfio_iommu_type1_info", headers = "linux/vfio.h")
public final class VfioIommuType1Info {
    private VfioIommuType1Info() {
    }

    @Sizeof public static final int SIZEOF = 24;
    @Offsetof("argsz") public static final int ARGSZ = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("iova_pgsizes") public static final int IOVA_PGSIZES = 8;
    @Offsetof("cap_offset") public static final int CAP_OFFSET = 16;
}

package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_iommu_type1_info_cap_iova_range} ({@code <linux/vfio.h>}): the IOVA ranges a type1
 * container can map, each a {@code struct vfio_iova_range { __u64 start; __u64 end; }} (end inclusive, 16 bytes).
 * <pre>
 * struct vfio_iommu_type1_info_cap_iova_range {
 *     struct vfio_info_cap_header header; __u32 nr_iovas; __u32 reserved; struct vfio_iova_range iova_ranges[];
 * };
 * </pre>
 */
@CStruct(value = "struct vfio_iommu_type1_info_cap_iova_range", headers = "linux/vfio.h")
public final class VfioIovaRangeCap {
    private VfioIovaRangeCap() {
    }

    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("nr_iovas") public static final int NR_IOVAS = 8;
    @Offsetof("iova_ranges") public static final int IOVA_RANGES = 16;
    /** sizeof(struct vfio_iova_range). */
    public static final int RANGE_SIZE = 16;
}

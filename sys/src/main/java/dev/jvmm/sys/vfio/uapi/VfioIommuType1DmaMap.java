package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_iommu_type1_dma_map} ({@code <linux/vfio.h>}), the argument of {@code VFIO_IOMMU_MAP_DMA}.
 * <pre>
 * struct vfio_iommu_type1_dma_map { __u32 argsz; __u32 flags; __u64 vaddr; __u64 iova; __u64 size; };
 * </pre>
 */
@CStruct(value = "struct vfio_iommu_type1_dma_map", headers = "linux/vfio.h")
public final class VfioIommuType1DmaMap {
    private VfioIommuType1DmaMap() {
    }

    @Sizeof public static final int SIZEOF = 32;
    @Offsetof("argsz") public static final int ARGSZ = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("vaddr") public static final int VADDR = 8;
    @Offsetof("iova") public static final int IOVA = 16;
    @Offsetof("size") public static final int SIZE = 24;
}

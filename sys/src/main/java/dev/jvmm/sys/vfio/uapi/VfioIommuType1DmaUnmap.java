package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_iommu_type1_dma_unmap} ({@code <linux/vfio.h>}), the argument of
 * {@code VFIO_IOMMU_UNMAP_DMA}. The kernel writes back in {@code size} how much it unmapped.
 * <pre>
 * struct vfio_iommu_type1_dma_unmap { __u32 argsz; __u32 flags; __u64 iova; __u64 size; __u8 data[]; };
 * </pre>
 */
@CStruct(value = "struct vfio_iommu_type1_dma_unmap", headers = "linux/vfio.h")
public final class VfioIommuType1DmaUnmap {
    private VfioIommuType1DmaUnmap() {
    }

    @Sizeof public static final int SIZEOF = 24;
    @Offsetof("argsz") public static final int ARGSZ = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("iova") public static final int IOVA = 8;
    @Offsetof("size") public static final int SIZE = 16;
}

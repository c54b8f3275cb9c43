package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_region_info_cap_sparse_mmap} ({@code <linux/vfio.h>}): the parts of a region that may
 * be mmap'd, each a {@code struct vfio_region_sparse_mmap_area { __u64 offset; __u64 size; }} (16 bytes).
 * <pre>
 * struct vfio_region_info_cap_sparse_mmap {
 *     struct vfio_info_cap_header header; __u32 nr_areas; __u32 reserved; struct vfio_region_sparse_mmap_area areas[];
 * };
 * </pre>
 */
@CStruct(value = "struct vfio_region_info_cap_sparse_mmap", headers = "linux/vfio.h")
public final class VfioSparseMmapCap {
    private VfioSparseMmapCap() {
    }

    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("nr_areas") public static final int NR_AREAS = 8;
    @Offsetof("areas") public static final int AREAS = 16;
    /** sizeof(struct vfio_region_sparse_mmap_area). */
    public static final int AREA_SIZE = 16;
}

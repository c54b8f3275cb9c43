package dev.jvmm.sys.vhost.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vhost_memory} ({@code <linux/vhost_types.h>}), the argument of
 * {@code VHOST_SET_MEM_TABLE}: a header followed by {@code nregions} {@link VhostMemoryRegion}s (a flexible array,
 * built with {@link dev.jvmm.sys.FlexArray}). The kernel refuses a non-zero {@code padding} (EOPNOTSUPP) and more
 * regions than vhost's {@code max_mem_regions} module parameter (64 by default; E2BIG).
 * <pre>
 * struct vhost_memory { __u32 nregions; __u32 padding; struct vhost_memory_region regions[]; };
 * </pre>
 */
@CStruct(value = "struct vhost_memory", headers = "linux/vhost.h")
public final class VhostMemory {
    private VhostMemory() {
    }

    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("nregions") public static final int NREGIONS = 0;
    @Offsetof("padding") public static final int PADDING = 4;
    @Offsetof("regions") public static final int REGIONS = 8;
}

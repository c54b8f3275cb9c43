package dev.jvmm.sys.vhost.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vhost_memory_region} ({@code <linux/vhost_types.h>}), one entry of
 * {@link VhostMemory}: guest-physical range {@code [guest_phys_addr, guest_phys_addr + memory_size)} is at host
 * virtual address {@code userspace_addr}. No flags are defined; {@code flags_padding} is written as 0.
 * <pre>
 * struct vhost_memory_region { __u64 guest_phys_addr; __u64 memory_size; __u64 userspace_addr;
 *   __u64 flags_padding; };
 * </pre>
 */
@CStruct(value = "struct vhost_memory_region", headers = "linux/vhost.h")
public final class VhostMemoryRegion {
    private VhostMemoryRegion() {
    }

    @Sizeof public static final int SIZEOF = 32;
    @Offsetof("guest_phys_addr") public static final int GUEST_PHYS_ADDR = 0;
    @Offsetof("memory_size") public static final int MEMORY_SIZE = 8;
    @Offsetof("userspace_addr") public static final int USERSPACE_ADDR = 16;
    @Offsetof("flags_padding") public static final int FLAGS_PADDING = 24;
}

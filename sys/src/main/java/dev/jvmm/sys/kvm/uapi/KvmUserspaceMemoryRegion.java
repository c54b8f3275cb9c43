package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_userspace_memory_region} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_userspace_memory_region { __u32 slot; __u32 flags; __u64 guest_phys_addr;
 *   __u64 memory_size; __u64 userspace_addr; };
 * </pre>
 */
@CStruct(value = "struct kvm_userspace_memory_region", headers = "linux/kvm.h")
public final class KvmUserspaceMemoryRegion {
    private KvmUserspaceMemoryRegion() {
    }

    @Sizeof public static final int SIZEOF = 32;
    @Offsetof("slot") public static final int SLOT = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("guest_phys_addr") public static final int GUEST_PHYS_ADDR = 8;
    @Offsetof("memory_size") public static final int MEMORY_SIZE = 16;
    @Offsetof("userspace_addr") public static final int USERSPACE_ADDR = 24;
}

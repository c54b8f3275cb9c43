package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_msrs} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_msrs { __u32 nmsrs; __u32 pad; struct kvm_msr_entry entries[]; };
 * </pre>
 */
@CStruct(value = "struct kvm_msrs", headers = "linux/kvm.h")
public final class KvmMsrs {
    private KvmMsrs() {
    }

    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("nmsrs") public static final int NMSRS = 0;
    @Offsetof("entries") public static final int ENTRIES = 8;
}

package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_msr_list} ({@code <asm/kvm.h>}, x86-64), for KVM_GET_MSR_INDEX_LIST on /dev/kvm.
 * <pre>
 * struct kvm_msr_list { __u32 nmsrs; __u32 indices[]; };
 * </pre>
 */
@CStruct(value = "struct kvm_msr_list", headers = "linux/kvm.h")
public final class KvmMsrList {
    private KvmMsrList() {
    }

    @Sizeof public static final int SIZEOF = 4;
    @Offsetof("nmsrs") public static final int NMSRS = 0;
    @Offsetof("indices") public static final int INDICES = 4;
}

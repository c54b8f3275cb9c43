package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_cpuid2} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_cpuid2 { __u32 nent; __u32 padding; struct kvm_cpuid_entry2 entries[]; };
 * </pre>
 */
@CStruct(value = "struct kvm_cpuid2", headers = "linux/kvm.h")
public final class KvmCpuid2 {
    private KvmCpuid2() {
    }

    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("nent") public static final int NENT = 0;
    @Offsetof("entries") public static final int ENTRIES = 8;
}

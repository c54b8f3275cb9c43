package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_cpuid_entry2} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_cpuid_entry2 { __u32 function; __u32 index; __u32 flags; __u32 eax; __u32 ebx; __u32 ecx;
 *   __u32 edx; __u32 padding[3]; };
 * </pre>
 */
@CStruct(value = "struct kvm_cpuid_entry2", headers = "linux/kvm.h")
public final class KvmCpuidEntry2 {
    private KvmCpuidEntry2() {
    }

    @Sizeof public static final int SIZEOF = 40;
    @Offsetof("function") public static final int FUNCTION = 0;
    @Offsetof("index") public static final int INDEX = 4;
    @Offsetof("flags") public static final int FLAGS = 8;
    @Offsetof("eax") public static final int EAX = 12;
    @Offsetof("ebx") public static final int EBX = 16;
    @Offsetof("ecx") public static final int ECX = 20;
    @Offsetof("edx") public static final int EDX = 24;
}

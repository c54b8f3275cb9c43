package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_msr_entry} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_msr_entry { __u32 index; __u32 reserved; __u64 data; };
 * </pre>
 */
@CStruct(value = "struct kvm_msr_entry", headers = "linux/kvm.h")
public final class KvmMsrEntry {
    private KvmMsrEntry() {
    }

    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("index") public static final int INDEX = 0;
    @Offsetof("data") public static final int DATA = 8;
}

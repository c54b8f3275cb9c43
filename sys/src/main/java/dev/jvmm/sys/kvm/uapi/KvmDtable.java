package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_dtable} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_dtable { __u64 base; __u16 limit; __u16 padding[3]; };
 * </pre>
 */
@CStruct(value = "struct kvm_dtable", headers = "linux/kvm.h")
public final class KvmDtable {
    private KvmDtable() {
    }

    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("base") public static final int BASE = 0;
    @Offsetof("limit") public static final int LIMIT = 8;
}

package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_debugregs} ({@code <asm/kvm.h>}, x86-64), for KVM_GET_DEBUGREGS / KVM_SET_DEBUGREGS.
 * <pre>
 * struct kvm_debugregs { __u64 db[4]; __u64 dr6; __u64 dr7; __u64 flags; __u64 reserved[9]; };
 * </pre>
 */
@CStruct(value = "struct kvm_debugregs", headers = "linux/kvm.h")
public final class KvmDebugregs {
    private KvmDebugregs() {
    }

    @Sizeof public static final int SIZEOF = 128;
    @Offsetof("db") public static final int DB = 0;
    @Offsetof("dr6") public static final int DR6 = 32;
    @Offsetof("dr7") public static final int DR7 = 40;
    @Offsetof("flags") public static final int FLAGS = 48;
}

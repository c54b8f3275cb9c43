package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_xcrs} ({@code <asm/kvm.h>}, x86-64), for KVM_GET_XCRS / KVM_SET_XCRS.
 * <pre>
 * struct kvm_xcr { __u32 xcr; __u32 reserved; __u64 value; };
 * struct kvm_xcrs { __u32 nr_xcrs; __u32 flags; struct kvm_xcr xcrs[KVM_MAX_XCRS]; __u64 padding[16]; };
 * </pre>
 */
@CStruct(value = "struct kvm_xcrs", headers = "linux/kvm.h")
public final class KvmXcrs {
    private KvmXcrs() {
    }

    @Sizeof public static final int SIZEOF = 392;
    @Offsetof("nr_xcrs") public static final int NR_XCRS = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("xcrs") public static final int XCRS = 8;
    @Offsetof("xcrs[1]") public static final int XCR1 = 24;
    @Offsetof("xcrs[0].value") public static final int XCR0_VALUE = 16;
    @Offsetof("padding") public static final int PADDING = 264;
}

package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_xsave} ({@code <asm/kvm.h>}, x86-64), for KVM_GET_XSAVE / KVM_SET_XSAVE /
 * KVM_GET_XSAVE2. The fixed part is 4 KiB; KVM_GET_XSAVE2 and KVM_SET_XSAVE move as many bytes as
 * KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) on the VM fd reports (never less than 4096), the rest in {@code extra}.
 * <pre>
 * struct kvm_xsave { __u32 region[1024]; __u32 extra[]; };
 * </pre>
 */
@CStruct(value = "struct kvm_xsave", headers = "linux/kvm.h")
public final class KvmXsave {
    private KvmXsave() {
    }

    @Sizeof public static final int SIZEOF = 4096;
    @Offsetof("region") public static final int REGION = 0;
    @Offsetof("extra") public static final int EXTRA = 4096;
}

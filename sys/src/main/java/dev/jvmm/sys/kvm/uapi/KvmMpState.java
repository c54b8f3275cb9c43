package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_mp_state} ({@code <linux/kvm.h>}), for KVM_GET_MP_STATE / KVM_SET_MP_STATE.
 * <pre>
 * struct kvm_mp_state { __u32 mp_state; };   values KVM_MP_STATE_*
 * </pre>
 */
@CStruct(value = "struct kvm_mp_state", headers = "linux/kvm.h")
public final class KvmMpState {
    private KvmMpState() {
    }

    @Sizeof public static final int SIZEOF = 4;
    @Offsetof("mp_state") public static final int MP_STATE = 0;
}

package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_lapic_state} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_lapic_state { char regs[KVM_APIC_REG_SIZE]; };   KVM_APIC_REG_SIZE = 0x400
 * </pre>
 */
@CStruct(value = "struct kvm_lapic_state", headers = "linux/kvm.h")
public final class KvmLapicState {
    private KvmLapicState() {
    }

    @Sizeof public static final int SIZEOF = 1024;
    @Offsetof("regs") public static final int REGS = 0;
}

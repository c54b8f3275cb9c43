package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_vcpu_events} ({@code <asm/kvm.h>}, x86-64), for KVM_GET_VCPU_EVENTS /
 * KVM_SET_VCPU_EVENTS: pending and injected exception, interrupt, NMI and SMI, with {@code flags} saying which
 * parts KVM_SET_VCPU_EVENTS applies (KVM_GET_VCPU_EVENTS sets them).
 * <pre>
 * struct kvm_vcpu_events { struct { __u8 injected, nr, has_error_code, pending; __u32 error_code; } exception;
 *   struct { __u8 injected, nr, soft, shadow; } interrupt; struct { __u8 injected, pending, masked, pad; } nmi;
 *   __u32 sipi_vector; __u32 flags; struct { __u8 smm, pending, smm_inside_nmi, latched_init; } smi;
 *   struct { __u8 pending; } triple_fault; __u8 reserved[26]; __u8 exception_has_payload; __u64 exception_payload; };
 * </pre>
 */
@CStruct(value = "struct kvm_vcpu_events", headers = "linux/kvm.h")
public final class KvmVcpuEvents {
    private KvmVcpuEvents() {
    }

    @Sizeof public static final int SIZEOF = 64;
    @Offsetof("exception") public static final int EXCEPTION = 0;
    @Offsetof("interrupt") public static final int INTERRUPT = 8;
    @Offsetof("nmi") public static final int NMI = 12;
    @Offsetof("sipi_vector") public static final int SIPI_VECTOR = 16;
    @Offsetof("flags") public static final int FLAGS = 20;
    @Offsetof("smi") public static final int SMI = 24;
    @Offsetof("exception_payload") public static final int EXCEPTION_PAYLOAD = 56;
}

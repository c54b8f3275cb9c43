package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_fpu} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_fpu { __u8 fpr[8][16]; __u16 fcw; __u16 fsw; __u8 ftwx; __u8 pad1; __u16 last_opcode;
 *   __u64 last_ip; __u64 last_dp; __u8 xmm[16][16]; __u32 mxcsr; __u32 pad2; };
 * </pre>
 */
@CStruct(value = "struct kvm_fpu", headers = "linux/kvm.h")
public final class KvmFpu {
    private KvmFpu() {
    }

    @Sizeof public static final int SIZEOF = 416;
    @Offsetof("fpr") public static final int FPR = 0;
    @Offsetof("fcw") public static final int FCW = 128;
    @Offsetof("fsw") public static final int FSW = 130;
    @Offsetof("ftwx") public static final int FTWX = 132;
    @Offsetof("xmm") public static final int XMM = 152;
    @Offsetof("mxcsr") public static final int MXCSR = 416 - 8;
}

package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_regs} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_regs { __u64 rax, rbx, rcx, rdx; __u64 rsi, rdi, rsp, rbp; __u64 r8 .. r15; __u64 rip, rflags; };
 * </pre>
 */
@CStruct(value = "struct kvm_regs", headers = "linux/kvm.h")
public final class KvmRegs {
    private KvmRegs() {
    }

    @Sizeof public static final int SIZEOF = 144;
    @Offsetof("rax") public static final int RAX = 0;
    @Offsetof("rbx") public static final int RBX = 8;
    @Offsetof("rcx") public static final int RCX = 16;
    @Offsetof("rdx") public static final int RDX = 24;
    @Offsetof("rsi") public static final int RSI = 32;
    @Offsetof("rdi") public static final int RDI = 40;
    @Offsetof("rsp") public static final int RSP = 48;
    @Offsetof("rbp") public static final int RBP = 56;
    @Offsetof("r8") public static final int R8 = 64;
    @Offsetof("r15") public static final int R15 = 120;
    @Offsetof("rip") public static final int RIP = 128;
    @Offsetof("rflags") public static final int RFLAGS = 136;
}

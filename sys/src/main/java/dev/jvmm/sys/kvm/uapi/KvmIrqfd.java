package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_irqfd} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_irqfd { __u32 fd; __u32 gsi; __u32 flags; __u32 resamplefd; __u8 pad[16]; };
 * </pre>
 */
@CStruct(value = "struct kvm_irqfd", headers = "linux/kvm.h")
public final class KvmIrqfd {
    private KvmIrqfd() {
    }

    @Sizeof public static final int SIZEOF = 32;
    @Offsetof("fd") public static final int FD = 0;
    @Offsetof("gsi") public static final int GSI = 4;
    @Offsetof("flags") public static final int FLAGS = 8;
    @Offsetof("resamplefd") public static final int RESAMPLEFD = 12;
}

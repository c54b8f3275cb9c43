package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_irq_level} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_irq_level { union { __u32 irq; __s32 status; }; __u32 level; };
 * </pre>
 */
@CStruct(value = "struct kvm_irq_level", headers = "linux/kvm.h")
public final class KvmIrqLevel {
    private KvmIrqLevel() {
    }

    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("irq") public static final int IRQ = 0;
    @Offsetof("level") public static final int LEVEL = 4;
}

package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_irq_routing} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_irq_routing { __u32 nr; __u32 flags; struct kvm_irq_routing_entry entries[]; };
 * </pre>
 */
@CStruct(value = "struct kvm_irq_routing", headers = "linux/kvm.h")
public final class KvmIrqRouting {
    private KvmIrqRouting() {
    }

    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("nr") public static final int NR = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("entries") public static final int ENTRIES = 8;
}

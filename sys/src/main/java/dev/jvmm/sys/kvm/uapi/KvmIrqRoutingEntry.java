package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_irq_routing_entry} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_irq_routing_entry { __u32 gsi; __u32 type; __u32 flags; __u32 pad;
 *   union { struct kvm_irq_routing_irqchip irqchip; struct kvm_irq_routing_msi msi; ...; __u32 pad[8]; } u; };
 * </pre>
 */
@CStruct(value = "struct kvm_irq_routing_entry", headers = "linux/kvm.h")
public final class KvmIrqRoutingEntry {
    private KvmIrqRoutingEntry() {
    }

    @Sizeof public static final int SIZEOF = 48;
    @Offsetof("gsi") public static final int GSI = 0;
    @Offsetof("type") public static final int TYPE = 4;
    @Offsetof("flags") public static final int FLAGS = 8;
    @Offsetof("u.irqchip.irqchip") public static final int IRQCHIP_IRQCHIP = 16;
    @Offsetof("u.irqchip.pin") public static final int IRQCHIP_PIN = 20;
    @Offsetof("u.msi.address_lo") public static final int MSI_ADDRESS_LO = 16;
    @Offsetof("u.msi.address_hi") public static final int MSI_ADDRESS_HI = 20;
    @Offsetof("u.msi.data") public static final int MSI_DATA = 24;
    @Offsetof("u.msi.devid") public static final int MSI_DEVID = 28;
}

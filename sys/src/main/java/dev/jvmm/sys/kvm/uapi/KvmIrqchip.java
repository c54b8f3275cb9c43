package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_irqchip} ({@code <linux/kvm.h>}, x86-64), for KVM_GET_IRQCHIP / KVM_SET_IRQCHIP of
 * the in-kernel PIC master, PIC slave or IOAPIC ({@code chip_id} = KVM_IRQCHIP_*). The state is the 512-byte union
 * {@code chip}.
 * <pre>
 * struct kvm_irqchip { __u32 chip_id; __u32 pad;
 *   union { char dummy[512]; struct kvm_pic_state pic; struct kvm_ioapic_state ioapic; } chip; };
 * struct kvm_pic_state { __u8 last_irr, irr, imr, isr, ...; };  (16 bytes)
 * struct kvm_ioapic_state { __u64 base_address; __u32 ioregsel, id, irr, pad; union { __u64 bits; ... } redirtbl[24]; };
 * </pre>
 */
@CStruct(value = "struct kvm_irqchip", headers = "linux/kvm.h")
public final class KvmIrqchip {
    private KvmIrqchip() {
    }

    @Sizeof public static final int SIZEOF = 520;
    @Offsetof("chip_id") public static final int CHIP_ID = 0;
    @Offsetof("chip") public static final int CHIP = 8;
    /** Bytes of the {@code chip} union: what a PIC or IOAPIC state blob holds. */
    public static final int CHIP_SIZE = SIZEOF - CHIP;
    @Offsetof("chip.pic.imr") public static final int CHIP_PIC_IMR = 10;
    @Offsetof("chip.pic.irq_base") public static final int CHIP_PIC_IRQ_BASE = 13;
    @Offsetof("chip.ioapic.id") public static final int CHIP_IOAPIC_ID = 20;
    @Offsetof("chip.ioapic.redirtbl") public static final int CHIP_IOAPIC_REDIRTBL = 32;
}

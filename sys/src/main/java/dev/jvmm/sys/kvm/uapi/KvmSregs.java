package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_sregs} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_sregs { struct kvm_segment cs, ds, es, fs, gs, ss; struct kvm_segment tr, ldt;
 *   struct kvm_dtable gdt, idt; __u64 cr0, cr2, cr3, cr4, cr8; __u64 efer; __u64 apic_base;
 *   __u64 interrupt_bitmap[(KVM_NR_INTERRUPTS + 63) / 64]; };
 * </pre>
 */
@CStruct(value = "struct kvm_sregs", headers = "linux/kvm.h")
public final class KvmSregs {
    private KvmSregs() {
    }

    @Sizeof public static final int SIZEOF = 312;
    @Offsetof("cs") public static final int CS = 0;
    @Offsetof("ds") public static final int DS = 24;
    @Offsetof("es") public static final int ES = 48;
    @Offsetof("fs") public static final int FS = 72;
    @Offsetof("gs") public static final int GS = 96;
    @Offsetof("ss") public static final int SS = 120;
    @Offsetof("tr") public static final int TR = 144;
    @Offsetof("ldt") public static final int LDT = 168;
    @Offsetof("gdt") public static final int GDT = 192;
    @Offsetof("idt") public static final int IDT = 208;
    @Offsetof("cr0") public static final int CR0 = 224;
    @Offsetof("cr2") public static final int CR2 = 232;
    @Offsetof("cr3") public static final int CR3 = 240;
    @Offsetof("cr4") public static final int CR4 = 248;
    @Offsetof("cr8") public static final int CR8 = 256;
    @Offsetof("efer") public static final int EFER = 264;
    @Offsetof("apic_base") public static final int APIC_BASE = 272;
    @Offsetof("interrupt_bitmap") public static final int INTERRUPT_BITMAP = 280;
}

package dev.jvmm.sys.kvm;

import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.kvm.uapi.KvmDtable;
import dev.jvmm.sys.kvm.uapi.KvmSregs;

/** {@code struct kvm_sregs}: segment, descriptor-table and control registers. */
public final class Sregs {
    public final Segment cs = new Segment(), ds = new Segment(), es = new Segment(), fs = new Segment(),
            gs = new Segment(), ss = new Segment(), tr = new Segment(), ldt = new Segment();
    public long gdtBase, idtBase;
    public int gdtLimit, idtLimit;
    public long cr0, cr2, cr3, cr4, cr8, efer, apicBase;
    /** The interrupt bitmap is carried through unchanged between get and set. */
    private final long[] interruptBitmap = new long[4];

    public static final long CR0_PE = 1L, CR0_ET = 1L << 4, CR0_PG = 1L << 31;
    public static final long CR4_PAE = 1L << 5;
    public static final long EFER_LME = 1L << 8, EFER_LMA = 1L << 10;

    /** Loads {@code code} into CS and {@code data} into DS, ES, FS, GS and SS. */
    public void setFlatSegments(Segment code, Segment data) {
        cs.set(code);
        for (Segment d : new Segment[] {ds, es, fs, gs, ss}) {
            d.set(data);
        }
    }

    /**
     * 64-bit long mode with paging rooted at {@code pml4}: flat 64-bit code (selector 0x8) and data (0x10)
     * segments, CR0.PG|ET|PE, CR4.PAE, EFER.LME|LMA. The vcpu must have a CPUID that offers long mode.
     */
    public void enterLongMode(long pml4) {
        setFlatSegments(Segment.flat(0x8, true, true), Segment.flat(0x10, false, false));
        cr3 = pml4;
        cr4 |= CR4_PAE;
        cr0 = CR0_PG | CR0_ET | CR0_PE;
        efer |= EFER_LME | EFER_LMA;
    }

    private Segment[] segs() {
        return new Segment[] {cs, ds, es, fs, gs, ss, tr, ldt};
    }

    private static final int[] SEG_OFF = {KvmSregs.CS, KvmSregs.DS, KvmSregs.ES, KvmSregs.FS, KvmSregs.GS,
        KvmSregs.SS, KvmSregs.TR, KvmSregs.LDT};

    /** These registers as {@code struct kvm_sregs} (x86-64 layout, the interrupt bitmap included). */
    public byte[] toBytes() {
        return Blobs.encode(KvmSregs.SIZEOF, this::write);
    }

    /** Registers from the {@code struct kvm_sregs} bytes {@link #toBytes()} made. */
    public static Sregs fromBytes(byte[] kvmSregs) {
        return Blobs.decode("struct kvm_sregs", kvmSregs, KvmSregs.SIZEOF, b -> {
            Sregs s = new Sregs();
            s.read(b);
            return s;
        });
    }

    void read(NativeBuffer b) {
        Segment[] s = segs();
        for (int i = 0; i < s.length; i++) {
            s[i].read(b, SEG_OFF[i]);
        }
        gdtBase = b.getLong(KvmSregs.GDT + KvmDtable.BASE);
        gdtLimit = b.getShort(KvmSregs.GDT + KvmDtable.LIMIT) & 0xffff;
        idtBase = b.getLong(KvmSregs.IDT + KvmDtable.BASE);
        idtLimit = b.getShort(KvmSregs.IDT + KvmDtable.LIMIT) & 0xffff;
        cr0 = b.getLong(KvmSregs.CR0);
        cr2 = b.getLong(KvmSregs.CR2);
        cr3 = b.getLong(KvmSregs.CR3);
        cr4 = b.getLong(KvmSregs.CR4);
        cr8 = b.getLong(KvmSregs.CR8);
        efer = b.getLong(KvmSregs.EFER);
        apicBase = b.getLong(KvmSregs.APIC_BASE);
        for (int i = 0; i < 4; i++) {
            interruptBitmap[i] = b.getLong(KvmSregs.INTERRUPT_BITMAP + 8L * i);
        }
    }

    void write(NativeBuffer b) {
        b.clear();
        Segment[] s = segs();
        for (int i = 0; i < s.length; i++) {
            s[i].write(b, SEG_OFF[i]);
        }
        b.putLong(KvmSregs.GDT + KvmDtable.BASE, gdtBase);
        b.putShort(KvmSregs.GDT + KvmDtable.LIMIT, gdtLimit);
        b.putLong(KvmSregs.IDT + KvmDtable.BASE, idtBase);
        b.putShort(KvmSregs.IDT + KvmDtable.LIMIT, idtLimit);
        b.putLong(KvmSregs.CR0, cr0);
        b.putLong(KvmSregs.CR2, cr2);
        b.putLong(KvmSregs.CR3, cr3);
        b.putLong(KvmSregs.CR4, cr4);
        b.putLong(KvmSregs.CR8, cr8);
        b.putLong(KvmSregs.EFER, efer);
        b.putLong(KvmSregs.APIC_BASE, apicBase);
        for (int i = 0; i < 4; i++) {
            b.putLong(KvmSregs.INTERRUPT_BITMAP + 8L * i, interruptBitmap[i]);
        }
    }
}

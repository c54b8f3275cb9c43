package dev.jvmm.sys.kvm;

import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.kvm.uapi.KvmSegment;

/** {@code struct kvm_segment}. */
public final class Segment {
    public long base;
    public int limit;
    public int selector;
    public int type;
    public int present, dpl, db, s, l, g, avl, unusable;

    /** A flat 4 GiB segment: 64-bit code ({@code code && long64}), 32-bit code, or data. */
    public static Segment flat(int selector, boolean code, boolean long64) {
        Segment seg = new Segment();
        seg.base = 0;
        seg.limit = 0xffffffff;
        seg.selector = selector;
        seg.type = code ? 0xb : 0x3;
        seg.present = 1;
        seg.s = 1;
        seg.g = 1;
        seg.l = code && long64 ? 1 : 0;
        seg.db = code && long64 ? 0 : 1;
        return seg;
    }

    /** Copies every field of {@code from} into this segment (the segments of {@link Sregs} are final). */
    public void set(Segment from) {
        base = from.base;
        limit = from.limit;
        selector = from.selector;
        type = from.type;
        present = from.present;
        dpl = from.dpl;
        db = from.db;
        s = from.s;
        l = from.l;
        g = from.g;
        avl = from.avl;
        unusable = from.unusable;
    }

    void read(NativeBuffer b, long off) {
        base = b.getLong(off + KvmSegment.BASE);
        limit = b.getInt(off + KvmSegment.LIMIT);
        selector = b.getShort(off + KvmSegment.SELECTOR) & 0xffff;
        type = b.getByte(off + KvmSegment.TYPE) & 0xff;
        present = b.getByte(off + KvmSegment.PRESENT);
        dpl = b.getByte(off + KvmSegment.DPL);
        db = b.getByte(off + KvmSegment.DB);
        s = b.getByte(off + KvmSegment.S);
        l = b.getByte(off + KvmSegment.L);
        g = b.getByte(off + KvmSegment.G);
        avl = b.getByte(off + KvmSegment.AVL);
        unusable = b.getByte(off + KvmSegment.UNUSABLE);
    }

    void write(NativeBuffer b, long off) {
        b.putLong(off + KvmSegment.BASE, base);
        b.putInt(off + KvmSegment.LIMIT, limit);
        b.putShort(off + KvmSegment.SELECTOR, selector);
        b.putByte(off + KvmSegment.TYPE, type);
        b.putByte(off + KvmSegment.PRESENT, present);
        b.putByte(off + KvmSegment.DPL, dpl);
        b.putByte(off + KvmSegment.DB, db);
        b.putByte(off + KvmSegment.S, s);
        b.putByte(off + KvmSegment.L, l);
        b.putByte(off + KvmSegment.G, g);
        b.putByte(off + KvmSegment.AVL, avl);
        b.putByte(off + KvmSegment.UNUSABLE, unusable);
    }
}

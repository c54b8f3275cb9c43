package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_segment} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_segment { __u64 base; __u32 limit; __u16 selector; __u8 type; __u8 present, dpl, db, s, l, g, avl;
 *   __u8 unusable; __u8 padding; };
 * </pre>
 */
@CStruct(value = "struct kvm_segment", headers = "linux/kvm.h")
public final class KvmSegment {
    private KvmSegment() {
    }

    @Sizeof public static final int SIZEOF = 24;
    @Offsetof("base") public static final int BASE = 0;
    @Offsetof("limit") public static final int LIMIT = 8;
    @Offsetof("selector") public static final int SELECTOR = 12;
    @Offsetof("type") public static final int TYPE = 14;
    @Offsetof("present") public static final int PRESENT = 15;
    @Offsetof("dpl") public static final int DPL = 16;
    @Offsetof("db") public static final int DB = 17;
    @Offsetof("s") public static final int S = 18;
    @Offsetof("l") public static final int L = 19;
    @Offsetof("g") public static final int G = 20;
    @Offsetof("avl") public static final int AVL = 21;
    @Offsetof("unusable") public static final int UNUSABLE = 22;
}

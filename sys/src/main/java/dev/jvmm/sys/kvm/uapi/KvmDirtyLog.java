package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_dirty_log} ({@code <linux/kvm.h>}, x86-64), the argument of KVM_GET_DIRTY_LOG.
 * <pre>
 * struct kvm_dirty_log { __u32 slot; __u32 padding1;
 *   union { void *dirty_bitmap; __u64 padding2; }; };
 * </pre>
 * The bitmap has one bit per 4 KiB page of the slot, page {@code i} at bit {@code i % 64} of the {@code i / 64}-th
 * 64-bit word; the kernel writes {@code ALIGN(pages, 64) / 8} bytes.
 */
@CStruct(value = "struct kvm_dirty_log", headers = "linux/kvm.h")
public final class KvmDirtyLog {
    private KvmDirtyLog() {
    }

    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("slot") public static final int SLOT = 0;
    @Offsetof("padding1") public static final int PADDING1 = 4;
    @Offsetof("dirty_bitmap") public static final int DIRTY_BITMAP = 8;
}

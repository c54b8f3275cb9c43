package dev.jvmm.sys.uring.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct io_sqring_offsets} ({@code <linux/io_uring.h>}), {@code io_uring_params.sq_off}: where the
 * submission ring's fields lie in the mapping at {@code IORING_OFF_SQ_RING}, each a byte offset the kernel chooses.
 * {@code array} holds {@code ring_entries} 32-bit indices into the SQE array (mapped at {@code IORING_OFF_SQES}).
 * <pre>
 * struct io_sqring_offsets { __u32 head; __u32 tail; __u32 ring_mask; __u32 ring_entries; __u32 flags;
 *   __u32 dropped; __u32 array; __u32 resv1; __u64 resv2; };
 * </pre>
 */
@CStruct(value = "struct io_sqring_offsets", headers = "linux/io_uring.h")
public final class IoSqringOffsets {
    private IoSqringOffsets() {
    }

    @Sizeof public static final int SIZEOF = 40;
    @Offsetof("head") public static final int HEAD = 0;
    @Offsetof("tail") public static final int TAIL = 4;
    @Offsetof("ring_mask") public static final int RING_MASK = 8;
    @Offsetof("ring_entries") public static final int RING_ENTRIES = 12;
    @Offsetof("flags") public static final int FLAGS = 16;
    @Offsetof("dropped") public static final int DROPPED = 20;
    @Offsetof("array") public static final int ARRAY = 24;
}

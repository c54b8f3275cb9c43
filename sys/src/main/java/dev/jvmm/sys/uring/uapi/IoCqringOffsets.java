package dev.jvmm.sys.uring.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct io_cqring_offsets} ({@code <linux/io_uring.h>}), {@code io_uring_params.cq_off}: where the
 * completion ring's fields lie in the mapping at {@code IORING_OFF_CQ_RING} (the SQ ring's mapping with
 * {@code IORING_FEAT_SINGLE_MMAP}); {@code cqes} is the array of {@code ring_entries} {@link IoUringCqe}s.
 * <pre>
 * struct io_cqring_offsets { __u32 head; __u32 tail; __u32 ring_mask; __u32 ring_entries; __u32 overflow;
 *   __u32 cqes; __u32 flags; __u32 resv1; __u64 resv2; };
 * </pre>
 */
@CStruct(value = "struct io_cqring_offsets", headers = "linux/io_uring.h")
public final class IoCqringOffsets {
    private IoCqringOffsets() {
    }

    @Sizeof public static final int SIZEOF = 40;
    @Offsetof("head") public static final int HEAD = 0;
    @Offsetof("tail") public static final int TAIL = 4;
    @Offsetof("ring_mask") public static final int RING_MASK = 8;
    @Offsetof("ring_entries") public static final int RING_ENTRIES = 12;
    @Offsetof("overflow") public static final int OVERFLOW = 16;
    @Offsetof("cqes") public static final int CQES = 20;
    @Offsetof("flags") public static final int FLAGS = 24;
}

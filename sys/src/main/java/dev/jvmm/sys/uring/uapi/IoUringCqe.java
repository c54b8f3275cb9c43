package dev.jvmm.sys.uring.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct io_uring_cqe} ({@code <linux/io_uring.h>}), one completion queue entry (16 bytes without
 * {@code IORING_SETUP_CQE32}): the submission's {@code user_data} and its result, a byte count or {@code -errno}.
 * <pre>
 * struct io_uring_cqe { __u64 user_data; __s32 res; __u32 flags; __u64 big_cqe[]; };
 * </pre>
 */
@CStruct(value = "struct io_uring_cqe", headers = "linux/io_uring.h")
public final class IoUringCqe {
    private IoUringCqe() {
    }

    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("user_data") public static final int USER_DATA = 0;
    @Offsetof("res") public static final int RES = 8;
    @Offsetof("flags") public static final int FLAGS = 12;
}

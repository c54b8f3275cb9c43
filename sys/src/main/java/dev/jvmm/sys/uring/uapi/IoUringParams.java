package dev.jvmm.sys.uring.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct io_uring_params} ({@code <linux/io_uring.h>}), the argument of {@code io_uring_setup(2)}:
 * the caller sets {@code flags} (and {@code cq_entries} with {@code IORING_SETUP_CQSIZE}); the kernel writes back the
 * ring sizes it chose, the {@code features} it has and where each ring field lies in the mappings
 * ({@link IoSqringOffsets} at {@link #SQ_OFF}, {@link IoCqringOffsets} at {@link #CQ_OFF}).
 * <pre>
 * struct io_uring_params { __u32 sq_entries; __u32 cq_entries; __u32 flags; __u32 sq_thread_cpu;
 *   __u32 sq_thread_idle; __u32 features; __u32 wq_fd; __u32 resv[3];
 *   struct io_sqring_offsets sq_off; struct io_cqring_offsets cq_off; };
 * </pre>
 */
@CStruct(value = "struct io_uring_params", headers = "linux/io_uring.h")
public final class IoUringParams {
    private IoUringParams() {
    }

    @Sizeof public static final int SIZEOF = 120;
    @Offsetof("sq_entries") public static final int SQ_ENTRIES = 0;
    @Offsetof("cq_entries") public static final int CQ_ENTRIES = 4;
    @Offsetof("flags") public static final int FLAGS = 8;
    @Offsetof("sq_thread_cpu") public static final int SQ_THREAD_CPU = 12;
    @Offsetof("sq_thread_idle") public static final int SQ_THREAD_IDLE = 16;
    @Offsetof("features") public static final int FEATURES = 20;
    @Offsetof("wq_fd") public static final int WQ_FD = 24;
    @Offsetof("resv") public static final int RESV = 28;
    @Offsetof("sq_off") public static final int SQ_OFF = 40;
    @Offsetof("cq_off") public static final int CQ_OFF = 80;
}

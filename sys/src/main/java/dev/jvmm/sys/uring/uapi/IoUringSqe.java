package dev.jvmm.sys.uring.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct io_uring_sqe} ({@code <linux/io_uring.h>}), one submission queue entry (64 bytes without
 * {@code IORING_SETUP_SQE128}). Only the fields jvmm writes are mirrored; {@code off}, {@code rw_flags} /
 * {@code fsync_flags} and {@code buf_index} are members of unions.
 * <pre>
 * struct io_uring_sqe { __u8 opcode; __u8 flags; __u16 ioprio; __s32 fd;
 *   union { __u64 off; __u64 addr2; ... }; union { __u64 addr; __u64 splice_off_in; }; __u32 len;
 *   union { __kernel_rwf_t rw_flags; __u32 fsync_flags; ... }; __u64 user_data;
 *   union { __u16 buf_index; __u16 buf_group; } __attribute__((packed)); __u16 personality;
 *   union { __s32 splice_fd_in; __u32 file_index; ... }; union { struct { __u64 addr3; __u64 __pad2[1]; }; ... }; };
 * </pre>
 */
@CStruct(value = "struct io_uring_sqe", headers = "linux/io_uring.h")
public final class IoUringSqe {
    private IoUringSqe() {
    }

    @Sizeof public static final int SIZEOF = 64;
    @Offsetof("opcode") public static final int OPCODE = 0;
    @Offsetof("flags") public static final int FLAGS = 1;
    @Offsetof("ioprio") public static final int IOPRIO = 2;
    @Offsetof("fd") public static final int FD = 4;
    @Offsetof("off") public static final int OFF = 8;
    @Offsetof("addr") public static final int ADDR = 16;
    @Offsetof("len") public static final int LEN = 24;
    @Offsetof("rw_flags") public static final int RW_FLAGS = 28;
    @Offsetof("fsync_flags") public static final int FSYNC_FLAGS = 28;
    @Offsetof("user_data") public static final int USER_DATA = 32;
    @Offsetof("buf_index") public static final int BUF_INDEX = 40;
    @Offsetof("personality") public static final int PERSONALITY = 42;
    @Offsetof("splice_fd_in") public static final int SPLICE_FD_IN = 44;
    @Offsetof("addr3") public static final int ADDR3 = 48;
}

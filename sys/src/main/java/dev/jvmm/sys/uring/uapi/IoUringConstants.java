package dev.jvmm.sys.uring.uapi;

import dev.jvmm.sys.uapi.CConstants;

/**
 * io_uring's system call numbers (x86-64, {@code <sys/syscall.h>}) and the constants of {@code <linux/io_uring.h>}
 * jvmm uses; each is checked against the headers. glibc has no wrappers for these system calls: they go through
 * {@code syscall(2)}.
 */
@CConstants(headers = {"sys/syscall.h", "linux/io_uring.h"})
public final class IoUringConstants {
    private IoUringConstants() {
    }

    /** {@code int io_uring_setup(u32 entries, struct io_uring_params *p)}: a new ring; returns its fd. */
    public static final int __NR_io_uring_setup = 425;
    /** {@code int io_uring_enter(unsigned fd, u32 to_submit, u32 min_complete, u32 flags, void *argp, size_t argsz)}. */
    public static final int __NR_io_uring_enter = 426;
    /** {@code int io_uring_register(unsigned fd, unsigned opcode, void *arg, unsigned nr_args)}. */
    public static final int __NR_io_uring_register = 427;

    /** mmap offset of the submission ring (head, tail, mask, flags, the index array). */
    public static final long IORING_OFF_SQ_RING = 0L;
    /** mmap offset of the completion ring (head, tail, mask, overflow, the CQEs). */
    public static final long IORING_OFF_CQ_RING = 0x8000000L;
    /** mmap offset of the SQE array. */
    public static final long IORING_OFF_SQES = 0x10000000L;

    /** Setup flag: {@code cq_entries} in the params is the completion ring size wanted. */
    public static final int IORING_SETUP_CQSIZE = 1 << 3;
    /** Setup flag: ring sizes above the kernel's maximum are clamped instead of refused. */
    public static final int IORING_SETUP_CLAMP = 1 << 4;

    /** Feature: one mmap at IORING_OFF_SQ_RING maps both rings (5.4). */
    public static final int IORING_FEAT_SINGLE_MMAP = 1;
    /** Feature: completions are never dropped when the CQ ring is full, they wait in an overflow list (5.5). */
    public static final int IORING_FEAT_NODROP = 1 << 1;
    /** Feature: the data of a submission (an iovec array) is consumed by the time io_uring_enter returns (5.5). */
    public static final int IORING_FEAT_SUBMIT_STABLE = 1 << 2;

    /** io_uring_enter flag: wait for {@code min_complete} completions. */
    public static final int IORING_ENTER_GETEVENTS = 1;

    /** SQ ring flag: the completion ring overflowed (completions wait in the kernel; enter flushes them). */
    public static final int IORING_SQ_CQ_OVERFLOW = 1 << 1;

    public static final int IORING_OP_NOP = 0;
    /** preadv2(2): {@code fd}, {@code addr} = iovec array, {@code len} = iovec count, {@code off}. */
    public static final int IORING_OP_READV = 1;
    /** pwritev2(2), as READV. */
    public static final int IORING_OP_WRITEV = 2;
    /** fsync(2), or fdatasync(2) with {@link #IORING_FSYNC_DATASYNC} in {@code fsync_flags}. */
    public static final int IORING_OP_FSYNC = 3;
    /** {@code fsync_flags}: fdatasync semantics. */
    public static final int IORING_FSYNC_DATASYNC = 1;

    /** io_uring_register opcode: an eventfd (arg: a pointer to its int fd, nr_args 1) signalled on each completion. */
    public static final int IORING_REGISTER_EVENTFD = 4;
    public static final int IORING_UNREGISTER_EVENTFD = 5;
}

package dev.jvmm.virtio.blk;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.Native;
import dev.jvmm.virtio.Iovecs;

/**
 * One request slot of a queue: a virtio-blk request from the moment its chain is popped until its status is in the
 * used ring. A queue has one slot per ring entry, made when the queue starts, each with its own iovec array, so that
 * nothing is allocated per request. The queue's thread fills it and hands it to a {@link BlkEngine}; the engine
 * does one system call with it ({@link #perform()}, or its io_uring equivalent) and reports {@link #result}; the queue
 * thread takes it back from there (a short transfer goes round again for the rest).
 *
 * <p>Fields are written by the queue thread before the hand-over and by the engine before it hands the slot back;
 * the engines' queues order the two (a lock, or the io_uring rings).
 */
final class BlkRequest {
    static final int READ = 1, WRITE = 2, FLUSH = 3;
    /** Not in use / served on the queue thread / with the engine / a flush waiting for earlier writes. */
    static final int FREE = 0, INLINE = 1, SUBMITTED = 2, WAITING = 3;

    /** Where this slot sits in its queue's slot array (the io_uring user_data). */
    final int index;
    /** The request's data segments, in guest RAM. */
    final Iovecs iov;
    int state = FREE;
    int op;
    int fd;
    /** File offset of the next transfer, and bytes still to transfer (both move on after a short one). */
    long offset;
    long remaining;
    /** Bytes the request transfers in all (what the used element reports, plus the status byte, for a read). */
    long length;
    /** The chain's head descriptor and the host address of its status byte. */
    int head;
    long statusAddr;
    /**
     * A write: its number in the queue's order of writes. A flush: the number of the last write submitted before
     * it (the flush is issued once no write up to that one is in flight).
     */
    long writeSeq;
    /** The last system call's result: bytes transferred, 0, or {@code -errno}. */
    long result;
    /** Link in the intrusive lists of the engines and of the flushes that wait (no node allocated per request). */
    BlkRequest next;
    /** The queue (of a thread-pool engine) that takes it back. */
    Object owner;

    /**
     * A request on a disk with a format ({@code qcow2}): all its data segments, while {@link #iov} holds the piece
     * that is one contiguous host range (what the engine transfers now). Null on a raw disk.
     */
    final Iovecs whole;
    /** {@link #whole} holds the request's segments (it goes in more than one piece): BlkQueue#split. */
    boolean split;
    /** Where the next piece of a request on a formatted disk lives (reused). Null on a raw disk. */
    final dev.jvmm.virtio.blk.qcow2.Mapping map;
    /** This request goes piece by piece through the disk's format ({@link #whole}, {@link #map}). */
    boolean mapped;
    /** Virtual disk offset and bytes left of a mapped request (at the start of the piece with the engine). */
    long vOffset;
    long vRemaining;
    /** Bytes of the piece with the engine. */
    long chunk;

    BlkRequest(int index, int segments) {
        this(index, segments, false);
    }

    BlkRequest(int index, int segments, boolean formatted) {
        this.index = index;
        this.iov = new Iovecs(segments);
        Iovecs w = null;
        try {
            w = formatted ? new Iovecs(segments) : null;
        } catch (RuntimeException | Error e) {
            iov.close();
            throw e;
        }
        this.whole = w;
        this.map = formatted ? new dev.jvmm.virtio.blk.qcow2.Mapping() : null;
    }

    /**
     * Does this request's system call on the calling thread: one preadv/pwritev of the iovecs at {@link #offset}
     * (retrying EINTR), or fdatasync. Returns bytes transferred (possibly fewer than asked), 0, or {@code -errno}.
     */
    long perform() {
        for (;;) {
            long r = switch (op) {
                case READ -> Native.LIBC.preadv(fd, iov.address(), Math.min(iov.count(), 1024), offset);
                case WRITE -> Native.LIBC.pwritev(fd, iov.address(), Math.min(iov.count(), 1024), offset);
                case FLUSH -> Native.LIBC.fdatasync(fd);
                default -> throw new IllegalStateException("request op " + op);
            };
            if (r >= 0) {
                return r;
            }
            int e = Native.errno();
            if (e != Errno.EINTR) {
                return -e;
            }
        }
    }

    void close() {
        iov.close();
        if (whole != null) {
            whole.close();
        }
    }
}

package dev.jvmm.sys.uring;

import static dev.jvmm.sys.uring.uapi.IoUringConstants.*;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.LibC;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.uring.uapi.IoCqringOffsets;
import dev.jvmm.sys.uring.uapi.IoSqringOffsets;
import dev.jvmm.sys.uring.uapi.IoUringCqe;
import dev.jvmm.sys.uring.uapi.IoUringParams;
import dev.jvmm.sys.uring.uapi.IoUringSqe;
import java.lang.invoke.VarHandle;

/**
 * One io_uring instance ({@code io_uring_setup(2)}) with its rings mapped: a submission ring the owner fills with
 * {@code READV}, {@code WRITEV} and {@code FSYNC} entries and hands to the kernel with {@link #submit()}, and a
 * completion ring it drains with {@link #reap}. An eventfd registered with {@link #registerEventFd} is signalled for
 * every completion, so that an epoll loop can wait for them together with its other fds.
 *
 * <p>The kernel shares the ring heads and tails with us: the owner's stores of the SQ tail and the CQ head are
 * release stores (the entries they publish or give back are complete before them), its loads of the SQ head and the
 * CQ tail acquire loads. The SQ index array is the identity (entry {@code i} of the array names SQE {@code i}).
 *
 * <p>Errors: setup, mapping and registration failures throw {@link ErrnoException} naming the system call and the
 * ring, for example {@code io_uring_setup failed: EPERM (Operation not permitted) [virtio-blk-0 entries=256]} (what
 * {@code sysctl kernel.io_uring_disabled=2} gives). A request's own failure is its completion's {@code -errno}.
 *
 * <p>Not thread-safe: one thread owns a ring (or threads that hand it over with a happens-before edge, as a join).
 * Nothing allocates after {@link #setup}, except to throw.
 */
public final class IoUring implements AutoCloseable {
    private static final LibC C = Native.LIBC;

    /** What {@link #reap} hands each completion to. */
    @FunctionalInterface
    public interface Completion {
        /** One completion: the submission's {@code userData} and its result ({@code >= 0}, or {@code -errno}). */
        void complete(long userData, int res);
    }

    private final String name;
    private final Fd fd;
    private final Mmap sqRing;
    private final Mmap cqRing; // null with IORING_FEAT_SINGLE_MMAP (the CQ ring lies in sqRing's mapping)
    private final Mmap sqes;
    private final int features;
    private final int sqEntries, cqEntries;
    private final int sqMask, cqMask;
    private final long sqHead, sqTail, sqFlags, sqArray;
    private final long cqHead, cqTail, cqCqes;
    private final NativeBuffer scratch = new NativeBuffer(8);
    /** Our copy of the SQ tail: entries prepared up to here; published to the kernel by {@link #submit()}. */
    private int localTail;
    /** The SQ tail as last published (entries between the kernel's head and here await consumption). */
    private int publishedTail;

    private IoUring(String name, Fd fd, Mmap sqRing, Mmap cqRing, Mmap sqes, NativeBuffer p) {
        this.name = name;
        this.fd = fd;
        this.sqRing = sqRing;
        this.cqRing = cqRing;
        this.sqes = sqes;
        this.features = p.getInt(IoUringParams.FEATURES);
        this.sqEntries = p.getInt(IoUringParams.SQ_ENTRIES);
        this.cqEntries = p.getInt(IoUringParams.CQ_ENTRIES);
        long sq = sqRing.address();
        long cq = cqRing == null ? sq : cqRing.address();
        int so = IoUringParams.SQ_OFF, co = IoUringParams.CQ_OFF;
        this.sqHead = sq + (p.getInt(so + IoSqringOffsets.HEAD) & 0xffffffffL);
        this.sqTail = sq + (p.getInt(so + IoSqringOffsets.TAIL) & 0xffffffffL);
        this.sqFlags = sq + (p.getInt(so + IoSqringOffsets.FLAGS) & 0xffffffffL);
        this.sqArray = sq + (p.getInt(so + IoSqringOffsets.ARRAY) & 0xffffffffL);
        this.sqMask = Native.getInt(sq + (p.getInt(so + IoSqringOffsets.RING_MASK) & 0xffffffffL));
        this.cqHead = cq + (p.getInt(co + IoCqringOffsets.HEAD) & 0xffffffffL);
        this.cqTail = cq + (p.getInt(co + IoCqringOffsets.TAIL) & 0xffffffffL);
        this.cqCqes = cq + (p.getInt(co + IoCqringOffsets.CQES) & 0xffffffffL);
        this.cqMask = Native.getInt(cq + (p.getInt(co + IoCqringOffsets.RING_MASK) & 0xffffffffL));
        this.localTail = this.publishedTail = Native.getInt(sqTail);
        for (int i = 0; i < sqEntries; i++) {
            Native.putInt(sqArray + 4L * i, i); // identity: slot i of the array names SQE i
        }
    }

    /**
     * Makes a ring of at least {@code entries} submission entries (a power of two up to the kernel's limit, which
     * clamps) and {@code cqEntries} completion entries (0: the kernel's default, twice the submission entries).
     *
     * @throws ErrnoException when the kernel refuses: ENOSYS without io_uring, EPERM when
     *         {@code kernel.io_uring_disabled} forbids it, ENOMEM past {@code RLIMIT_MEMLOCK} on kernels before 5.12
     */
    public static IoUring setup(int entries, int cqEntries, String name) {
        if (entries <= 0) {
            throw new IllegalArgumentException(name + ": " + entries + " io_uring entries");
        }
        try (NativeBuffer p = new NativeBuffer(IoUringParams.SIZEOF)) {
            int flags = IORING_SETUP_CLAMP;
            if (cqEntries > 0) {
                flags |= IORING_SETUP_CQSIZE;
                p.putInt(IoUringParams.CQ_ENTRIES, cqEntries);
            }
            p.putInt(IoUringParams.FLAGS, flags);
            long r = C.syscall(__NR_io_uring_setup, entries, p.address(), 0, 0, 0);
            if (r < 0) {
                throw new ErrnoException("io_uring_setup", Native.errno(), name + " entries=" + entries);
            }
            Fd fd = new Fd((int) r, name + " io_uring");
            Mmap sq = null, cq = null, sqe = null;
            try {
                int feat = p.getInt(IoUringParams.FEATURES);
                int sqN = p.getInt(IoUringParams.SQ_ENTRIES), cqN = p.getInt(IoUringParams.CQ_ENTRIES);
                long sqLen = (p.getInt(IoUringParams.SQ_OFF + IoSqringOffsets.ARRAY) & 0xffffffffL) + 4L * sqN;
                long cqLen = (p.getInt(IoUringParams.CQ_OFF + IoCqringOffsets.CQES) & 0xffffffffL)
                        + (long) IoUringCqe.SIZEOF * cqN;
                int prot = Native.PROT_READ | Native.PROT_WRITE;
                int mapFlags = Native.MAP_SHARED | Native.MAP_POPULATE; // faulted in now, not on the first request
                if ((feat & IORING_FEAT_SINGLE_MMAP) != 0) {
                    sq = Mmap.map(0, Math.max(sqLen, cqLen), prot, mapFlags, fd.fd(), IORING_OFF_SQ_RING, name + " rings");
                } else {
                    sq = Mmap.map(0, sqLen, prot, mapFlags, fd.fd(), IORING_OFF_SQ_RING, name + " SQ ring");
                    cq = Mmap.map(0, cqLen, prot, mapFlags, fd.fd(), IORING_OFF_CQ_RING, name + " CQ ring");
                }
                sqe = Mmap.map(0, (long) IoUringSqe.SIZEOF * sqN, prot, mapFlags, fd.fd(), IORING_OFF_SQES,
                        name + " SQEs");
                return new IoUring(name, fd, sq, cq, sqe, p);
            } catch (RuntimeException | Error e) {
                for (Mmap m : new Mmap[] {sqe, cq, sq}) {
                    if (m != null) {
                        m.close();
                    }
                }
                fd.close();
                throw e;
            }
        }
    }

    /** "" once a probe found io_uring usable, else why not; null before the first probe. */
    private static volatile String probed;

    /**
     * Why io_uring cannot be used in this process, or null when it can: the error of a one-entry
     * {@link #setup} (and its mapping), tried once and remembered. Typical answers name ENOSYS (a kernel without
     * io_uring, or a seccomp filter that hides it) or EPERM ({@code kernel.io_uring_disabled}).
     */
    public static String unavailableReason() {
        String p = probed;
        if (p == null) {
            try (IoUring r = setup(1, 0, "io_uring probe")) {
                p = "";
            } catch (ErrnoException e) {
                String hint = e.errno() == Errno.EPERM ? " (sysctl kernel.io_uring_disabled forbids it to this process)"
                        : e.errno() == Errno.ENOSYS ? " (no io_uring in this kernel, or a seccomp filter hides it)" : "";
                p = e.getMessage() + hint;
            }
            probed = p;
        }
        return p.isEmpty() ? null : p;
    }

    public String name() {
        return name;
    }

    /** The ring's fd (for tests and logs). */
    public int fd() {
        return fd.fd();
    }

    public int sqEntries() {
        return sqEntries;
    }

    public int cqEntries() {
        return cqEntries;
    }

    /** The {@code IORING_FEAT_*} bits the kernel reported. */
    public int features() {
        return features;
    }

    /** Submission entries free for {@link #prepare} (not prepared, and not waiting for the kernel to take them). */
    public int sqSpace() {
        return sqEntries - (localTail - loadAcquire(sqHead));
    }

    /** Entries prepared and not yet handed over with {@link #submit()}. */
    public int prepared() {
        return localTail - publishedTail;
    }

    /**
     * Fills the next submission entry (zeroing the fields jvmm does not set) without publishing it: {@code op} on
     * {@code fd} with {@code addr}, {@code len}, {@code off} and {@code opFlags} as {@code <linux/io_uring.h>} defines
     * them for the opcode ({@code rw_flags}, {@code fsync_flags}), and {@code userData} for its completion.
     *
     * @return false when the submission ring is full
     */
    public boolean prepare(int op, int fd, long addr, int len, long off, int opFlags, long userData) {
        if (sqSpace() <= 0) {
            return false;
        }
        long e = sqes.address() + (long) IoUringSqe.SIZEOF * (localTail & sqMask);
        Native.fill(e, IoUringSqe.SIZEOF, (byte) 0);
        Native.putByte(e + IoUringSqe.OPCODE, (byte) op);
        Native.putInt(e + IoUringSqe.FD, fd);
        Native.putLong(e + IoUringSqe.OFF, off);
        Native.putLong(e + IoUringSqe.ADDR, addr);
        Native.putInt(e + IoUringSqe.LEN, len);
        Native.putInt(e + IoUringSqe.RW_FLAGS, opFlags);
        Native.putLong(e + IoUringSqe.USER_DATA, userData);
        localTail++;
        return true;
    }

    /** {@link #prepare} of {@code IORING_OP_READV}: {@code iovcnt} iovecs at {@code iov}, from file offset {@code off}. */
    public boolean prepareReadv(int fd, long iov, int iovcnt, long off, long userData) {
        return prepare(IORING_OP_READV, fd, iov, iovcnt, off, 0, userData);
    }

    /** {@link #prepare} of {@code IORING_OP_WRITEV}. */
    public boolean prepareWritev(int fd, long iov, int iovcnt, long off, long userData) {
        return prepare(IORING_OP_WRITEV, fd, iov, iovcnt, off, 0, userData);
    }

    /** {@link #prepare} of {@code IORING_OP_FSYNC}, with fdatasync semantics when {@code dataOnly}. */
    public boolean prepareFsync(int fd, boolean dataOnly, long userData) {
        return prepare(IORING_OP_FSYNC, fd, 0, 0, 0, dataOnly ? IORING_FSYNC_DATASYNC : 0, userData);
    }

    /**
     * Publishes the prepared entries and calls {@code io_uring_enter} until the kernel has taken all of them
     * (retrying EINTR, and EAGAIN/EBUSY, which say it is short of memory or has completions to flush first: those
     * are reaped by the kernel on the next enter). Returns how many it took.
     *
     * @throws ErrnoException when io_uring_enter fails otherwise; the entries it did not take stay prepared (see
     *         {@link #discardUnsubmitted})
     */
    public int submit() {
        if (localTail == publishedTail) {
            return 0;
        }
        storeRelease(sqTail, localTail);
        publishedTail = localTail;
        int taken = 0;
        int spins = 0;
        for (;;) {
            int waiting = localTail - loadAcquire(sqHead);
            if (waiting <= 0) {
                return taken;
            }
            long r = C.syscall(__NR_io_uring_enter, fd.fd(), waiting, 0, 0, 0);
            if (r >= 0) {
                taken += (int) r;
                if (r == 0 && ++spins > 1000) {
                    throw new ErrnoException("io_uring_enter", Errno.EAGAIN, name + " took none of " + waiting);
                }
                continue;
            }
            int e = Native.errno();
            if (e == Errno.EINTR || e == Errno.EAGAIN || e == Errno.EBUSY) {
                if (++spins > 1000) {
                    throw new ErrnoException("io_uring_enter", e, name + " to_submit=" + waiting);
                }
                Thread.onSpinWait();
                continue;
            }
            throw new ErrnoException("io_uring_enter", e, name + " to_submit=" + waiting);
        }
    }

    /**
     * Takes back the entries prepared or published that the kernel has not taken (after {@link #submit()} failed),
     * handing each one's {@code userData} to {@code c} with {@code -errno}, so that its owner can finish it. The
     * kernel reads the SQ tail only inside io_uring_enter, so moving it back between calls is safe.
     */
    public int discardUnsubmitted(int errno, Completion c) {
        int head = loadAcquire(sqHead);
        int n = localTail - head;
        for (int t = head; t != localTail; t++) {
            long e = sqes.address() + (long) IoUringSqe.SIZEOF * (t & sqMask);
            c.complete(Native.getLong(e + IoUringSqe.USER_DATA), -errno);
        }
        localTail = publishedTail = head;
        storeRelease(sqTail, head);
        return n;
    }

    /**
     * Blocks in {@code io_uring_enter(GETEVENTS)} until at least one completion is in the ring (returns at once when
     * one is). EINTR returns too: the caller looks at the ring and waits again.
     */
    public void awaitCompletion() {
        if (completionsReady() > 0) {
            return;
        }
        long r = C.syscall(__NR_io_uring_enter, fd.fd(), 0, 1, IORING_ENTER_GETEVENTS, 0);
        if (r < 0) {
            int e = Native.errno();
            if (e != Errno.EINTR && e != Errno.EAGAIN && e != Errno.EBUSY) {
                throw new ErrnoException("io_uring_enter(GETEVENTS)", e, name);
            }
        }
    }

    /** Completions in the ring not yet reaped. */
    public int completionsReady() {
        return loadAcquire(cqTail) - Native.getInt(cqHead);
    }

    /**
     * Hands every completion in the ring to {@code c}, oldest first, and gives their entries back to the kernel.
     * When the ring overflowed (completions wait in the kernel), an io_uring_enter with GETEVENTS moves them in and
     * they are reaped too. Returns how many.
     */
    public int reap(Completion c) {
        int n = 0;
        for (;;) {
            int head = Native.getInt(cqHead);
            int tail = loadAcquire(cqTail);
            if (head == tail) {
                if ((loadAcquire(sqFlags) & IORING_SQ_CQ_OVERFLOW) != 0) {
                    long r = C.syscall(__NR_io_uring_enter, fd.fd(), 0, 0, IORING_ENTER_GETEVENTS, 0);
                    if (r >= 0 && completionsReady() > 0) {
                        continue;
                    }
                }
                return n;
            }
            for (int h = head; h != tail; h++) {
                long e = cqCqes + (long) IoUringCqe.SIZEOF * (h & cqMask);
                long userData = Native.getLong(e + IoUringCqe.USER_DATA);
                int res = Native.getInt(e + IoUringCqe.RES);
                // give the entry back before the handler runs: it may submit again (and the kernel post again)
                storeRelease(cqHead, h + 1);
                n++;
                c.complete(userData, res);
            }
        }
    }

    /** {@code IORING_REGISTER_EVENTFD}: {@code efd} is signalled for every completion posted from now on. */
    public void registerEventFd(Fd efd) {
        scratch.putInt(0, efd.fd());
        if (C.syscall(__NR_io_uring_register, fd.fd(), IORING_REGISTER_EVENTFD, scratch.address(), 1, 0) < 0) {
            throw new ErrnoException("io_uring_register(IORING_REGISTER_EVENTFD)", Native.errno(),
                    name + " eventfd=" + efd.fd());
        }
    }

    /** {@code IORING_UNREGISTER_EVENTFD}. */
    public void unregisterEventFd() {
        if (C.syscall(__NR_io_uring_register, fd.fd(), IORING_UNREGISTER_EVENTFD, 0, 0, 0) < 0) {
            throw new ErrnoException("io_uring_register(IORING_UNREGISTER_EVENTFD)", Native.errno(), name);
        }
    }

    private static int loadAcquire(long address) {
        int v = Native.getInt(address);
        VarHandle.acquireFence(); // what the kernel wrote before this index is read only after it
        return v;
    }

    private static void storeRelease(long address, int v) {
        VarHandle.releaseFence(); // the entries are written (or read) before the index that hands them over
        Native.putInt(address, v);
    }

    /**
     * Unmaps the rings and closes the fd, once. Requests still in flight are not cancelled: the kernel finishes them
     * (into buffers that must stay mapped until then), so the owner waits for its completions first.
     */
    @Override
    public void close() {
        if (fd.isOpen()) {
            sqes.close();
            if (cqRing != null) {
                cqRing.close();
            }
            sqRing.close();
            fd.close();
            scratch.close();
        }
    }

    @Override
    public String toString() {
        return name + " (io_uring fd " + (fd.isOpen() ? fd.fd() : -1) + ", " + sqEntries + "/" + cqEntries + " entries)";
    }
}

package dev.jvmm.sys;

import com.kenai.jffi.LastError;

/**
 * The test hook that makes the Nth libc call fail, to prove that every step of a build unwinds (issue 17). Off unless
 * the JVM runs with {@code -Djvmm.faults=true} (the surefire argLine sets it for every test JVM): with the property
 * unset, {@link #ON} is a constant false and the JIT removes the hook from every {@link LibC} call.
 *
 * <p>{@link #arm(int, int) arm(n, errno)} counts the calls of {@link LibC} that acquire or configure a resource
 * (open, ioctl, mmap, madvise, eventfd, epoll_create1, epoll_ctl, socket, bind, setsockopt, fcntl, lseek, ftruncate,
 * fallocate, setns, syscall); the Nth of them is not made and fails as the kernel would: it returns -1
 * ({@link Native#MAP_FAILED} for mmap) with {@link Native#errno()} on that thread reporting the errno (given, or
 * by default ENOMEM for mmap, madvise, eventfd, epoll_create1 and epoll_ctl and EIO for the rest). Releases (close,
 * munmap) and data transfers (read, write, sendmsg, ...) are not counted: an unwind must be able to release, and the
 * hook is about acquiring.
 *
 * <p>Only the calls of the thread that armed the hook count. A cold-boot build makes all its system calls on the
 * calling thread and starts no thread (a virtio device's threads, with their epoll and io_uring set-up, start when the
 * guest's driver activates it; vCPU threads when the VM runs); other threads of the JVM (a running VM's, a cleaner)
 * make calls on their own schedule, and counting them would make "the Nth call" differ from run to run. So N walks
 * the build's own sequence deterministically; to fail a call of a helper thread, arm on that thread.
 */
public final class Faults {
    /** Whether the hook is compiled in (system property {@code jvmm.faults}, read once). */
    public static final boolean ON = Boolean.getBoolean("jvmm.faults");

    private static final LastError LAST_ERROR = LastError.getInstance();
    private static volatile Thread armedOn;
    private static int target;
    private static int count;
    private static int errno;
    private static volatile String failed;

    private Faults() {
    }

    /** Makes the {@code n}th counted call (from 1) of the calling thread fail with the call's default errno. */
    public static void arm(int n) {
        arm(n, 0);
    }

    /** Makes the {@code n}th counted call (from 1) of the calling thread fail with {@code errno} (0: the default). */
    public static synchronized void arm(int n, int errno) {
        if (!ON) {
            throw new IllegalStateException("fault injection is off: run the JVM with -Djvmm.faults=true");
        }
        if (n < 1) {
            throw new IllegalArgumentException("n counts from 1: " + n);
        }
        target = n;
        count = 0;
        Faults.errno = errno;
        failed = null;
        armedOn = Thread.currentThread();
    }

    /** Stops counting; {@link #reached()}, {@link #failedCall()} and {@link #calls()} keep the last run's answers. */
    public static synchronized void disarm() {
        armedOn = null;
    }

    /** Whether the armed call was reached (and so failed). */
    public static boolean reached() {
        return failed != null;
    }

    /** The call that was failed, e.g. {@code "ioctl(fd 5 -> anon_inode:kvm-vm, 0x4040ae46) -> EIO"}; null if none. */
    public static String failedCall() {
        return failed;
    }

    /** How many counted calls the armed thread made since {@link #arm(int)}. */
    public static synchronized int calls() {
        return count;
    }

    /** Counts a call; true if it is the one to fail. Called by {@link LibC} only while {@link #ON}. */
    static boolean hit() {
        if (armedOn != Thread.currentThread()) {
            return false;
        }
        synchronized (Faults.class) {
            return armedOn == Thread.currentThread() && ++count == target;
        }
    }

    /** Fails the call that {@link #hit()} picked: records it, sets errno and returns -1. */
    static int fail(int defaultErrno, String call, String args) {
        int e = errno != 0 ? errno : defaultErrno;
        failed = call + "(" + args + ") -> " + ErrnoException.name(e);
        LAST_ERROR.set(e);
        return -1;
    }

    /** An fd and what it points at, for {@link #failedCall()}. */
    static String fd(long fd) {
        try {
            return "fd " + fd + " -> " + java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + fd));
        } catch (java.io.IOException | RuntimeException e) {
            return "fd " + fd;
        }
    }
}

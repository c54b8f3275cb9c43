package dev.jvmm.sys;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Owner of one file descriptor. {@link #close()} is idempotent and never retried (a failed close has
 * still released the descriptor on Linux).
 */
public class Fd implements AutoCloseable {
    private static final LibC C = Native.LIBC;
    private final AtomicInteger fd;
    private final String name;

    public Fd(int fd, String name) {
        if (fd < 0) {
            throw new IllegalArgumentException("invalid fd " + fd + " for " + name);
        }
        this.fd = new AtomicInteger(fd);
        this.name = name;
    }

    /** Opens {@code path} with {@code flags | O_CLOEXEC}. */
    public static Fd open(String path, int flags) {
        return open(path, flags, 0);
    }

    public static Fd open(String path, int flags, int mode) {
        int r = C.open(path, flags | Native.O_CLOEXEC, mode);
        if (r < 0) {
            throw new ErrnoException("open", Native.errno(), path);
        }
        return new Fd(r, path);
    }

    /** The raw descriptor; fails once closed so that a stale number is never reused by mistake. */
    public int fd() {
        int v = fd.get();
        if (v < 0) {
            throw new IllegalStateException(name + " is closed");
        }
        return v;
    }

    public String name() {
        return name;
    }

    public boolean isOpen() {
        return fd.get() >= 0;
    }

    /** ioctl with an integer or pointer argument; returns the non-negative result. */
    public int ioctl(String op, long request, long arg) {
        int r = C.ioctl(fd(), request, arg);
        if (r < 0) {
            throw new ErrnoException(op, Native.errno(), name);
        }
        return r;
    }

    /** ioctl whose errors carry extra context, for example {@code gsi=24 fd=37}. */
    public int ioctl(String op, long request, long arg, String context) {
        int r = C.ioctl(fd(), request, arg);
        if (r < 0) {
            throw new ErrnoException(op, Native.errno(), context);
        }
        return r;
    }

    /** read(2) into native memory, retrying EINTR. Returns bytes read, or -1 on EAGAIN. */
    public long read(long buf, long len) {
        return transfer(false, buf, len);
    }

    /** write(2) from native memory, retrying EINTR. Returns bytes written, or -1 on EAGAIN. */
    public long write(long buf, long len) {
        return transfer(true, buf, len);
    }

    private long transfer(boolean write, long buf, long len) {
        for (;;) {
            long r = write ? C.write(fd(), buf, len) : C.read(fd(), buf, len);
            if (r >= 0) {
                return r;
            }
            int e = Native.errno();
            if (e == Errno.EAGAIN) {
                return -1;
            }
            if (e != Errno.EINTR) {
                throw new ErrnoException(write ? "write" : "read", e, name);
            }
        }
    }

    @Override
    public void close() {
        int v = fd.getAndSet(-1);
        if (v >= 0) {
            C.close(v);
        }
    }

    @Override
    public String toString() {
        return name + "(fd " + fd.get() + ")";
    }
}

package dev.jvmm.sys;

import dev.jvmm.sys.uapi.CConstants;

/**
 * An eventfd(2) counter: the doorbell between KVM (irqfd, ioeventfd), VFIO and device threads.
 * Signal and drain use a small per-instance native buffer, so neither allocates.
 */
@CConstants(headers = "sys/eventfd.h")
public final class EventFd extends Fd {
    public static final int EFD_CLOEXEC = 02000000;
    public static final int EFD_NONBLOCK = 04000;
    private final NativeBuffer buf = new NativeBuffer(8);

    private EventFd(int fd, String name) {
        super(fd, name);
    }

    /** A non-blocking, close-on-exec eventfd. */
    public static EventFd create(String name) {
        return create(name, EFD_NONBLOCK);
    }

    public static EventFd create(String name, int flags) {
        int r = Native.LIBC.eventfd(0, flags | EFD_CLOEXEC);
        if (r < 0) {
            throw new ErrnoException("eventfd", Native.errno(), name);
        }
        return new EventFd(r, name);
    }

    /** Adds 1 to the counter. */
    public synchronized void signal() {
        buf.putLong(0, 1);
        write(buf.address(), 8);
    }

    /** Reads and resets the counter; 0 when nothing was signalled (non-blocking mode). */
    public synchronized long drain() {
        long n = read(buf.address(), 8);
        return n == 8 ? buf.getLong(0) : 0;
    }

    @Override
    public void close() {
        super.close();
        buf.close();
    }
}

package dev.jvmm.sys;

import dev.jvmm.sys.uapi.CConstants;
import dev.jvmm.sys.uapi.EpollEvent;

/**
 * An epoll(7) instance. Device threads block in {@link #await(int)} on their eventfds; each registration
 * carries a 64-bit token returned with the event. Waiting reuses one native event array, so it does not
 * allocate.
 */
@CConstants(headers = "sys/epoll.h")
public final class Epoll extends Fd {
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    private static final int EVENT_SIZE = EpollEvent.SIZEOF;

    private final NativeBuffer ctl = new NativeBuffer(EVENT_SIZE);
    private final NativeBuffer events;
    private final int maxEvents;

    private Epoll(int fd, String name, int maxEvents) {
        super(fd, name);
        this.maxEvents = maxEvents;
        this.events = new NativeBuffer((long) EVENT_SIZE * maxEvents);
    }

    public static Epoll create(String name, int maxEvents) {
        int r = Native.LIBC.epoll_create1(Native.O_CLOEXEC);
        if (r < 0) {
            throw new ErrnoException("epoll_create1", Native.errno(), name);
        }
        return new Epoll(r, name, maxEvents);
    }

    public synchronized void add(Fd target, int eventMask, long token) {
        ctl(EPOLL_CTL_ADD, target, eventMask, token);
    }

    public synchronized void modify(Fd target, int eventMask, long token) {
        ctl(EPOLL_CTL_MOD, target, eventMask, token);
    }

    public synchronized void remove(Fd target) {
        ctl(EPOLL_CTL_DEL, target, 0, 0);
    }

    private void ctl(int op, Fd target, int mask, long token) {
        ctl.putInt(EpollEvent.EVENTS, mask);
        ctl.putLong(EpollEvent.DATA, token);
        if (Native.LIBC.epoll_ctl(fd(), op, target.fd(), ctl.address()) < 0) {
            throw new ErrnoException("epoll_ctl", Native.errno(), name() + " op=" + op + " target=" + target);
        }
    }

    /**
     * Waits up to {@code timeoutMillis} (-1: forever). Returns the number of ready events (0 on timeout
     * or EINTR); read them with {@link #token(int)} and {@link #events(int)}.
     */
    public int await(int timeoutMillis) {
        int n = Native.LIBC.epoll_wait(fd(), events.address(), maxEvents, timeoutMillis);
        if (n < 0) {
            int e = Native.errno();
            if (e == Errno.EINTR) {
                return 0;
            }
            throw new ErrnoException("epoll_wait", e, name());
        }
        return n;
    }

    public int events(int i) {
        return events.getInt((long) i * EVENT_SIZE + EpollEvent.EVENTS);
    }

    public long token(int i) {
        return events.getLong((long) i * EVENT_SIZE + EpollEvent.DATA);
    }

    @Override
    public void close() {
        super.close();
        ctl.close();
        events.close();
    }
}

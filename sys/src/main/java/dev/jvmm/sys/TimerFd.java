package dev.jvmm.sys;

import dev.jvmm.sys.uapi.CConstants;
import dev.jvmm.sys.uapi.Itimerspec;

/**
 * A one-shot timerfd(2) on CLOCK_MONOTONIC, non-blocking and close-on-exec: a device thread that must wait (a rate
 * limit) arms it and watches it in its epoll with its other fds, so that it never sleeps or spins. Arm and drain use
 * a small per-instance native buffer, so neither allocates.
 */
@CConstants(headers = {"sys/timerfd.h", "time.h"})
public final class TimerFd extends Fd {
    public static final int CLOCK_MONOTONIC = 1;
    public static final int TFD_NONBLOCK = 04000;
    public static final int TFD_CLOEXEC = 02000000;
    private final NativeBuffer buf = new NativeBuffer(Itimerspec.SIZEOF);

    private TimerFd(int fd, String name) {
        super(fd, name);
    }

    public static TimerFd create(String name) {
        int r = Native.LIBC.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (r < 0) {
            throw new ErrnoException("timerfd_create", Native.errno(), name);
        }
        return new TimerFd(r, name);
    }

    /** Expires once, {@code nanos} from now (at least 1 ns: zero would disarm it). Replaces an earlier arming. */
    public synchronized void arm(long nanos) {
        set(Math.max(1, nanos));
    }

    /** Cancels a pending expiry. */
    public synchronized void disarm() {
        set(0);
    }

    private void set(long nanos) {
        buf.putLong(Itimerspec.IT_INTERVAL, 0);
        buf.putLong(Itimerspec.IT_INTERVAL + 8, 0);
        buf.putLong(Itimerspec.IT_VALUE_SEC, nanos / 1_000_000_000L);
        buf.putLong(Itimerspec.IT_VALUE_NSEC, nanos % 1_000_000_000L);
        if (Native.LIBC.timerfd_settime(fd(), 0, buf.address(), 0) < 0) {
            throw new ErrnoException("timerfd_settime", Native.errno(), name());
        }
    }

    /** Reads and resets the expiry count; 0 when the timer has not expired since the last drain. */
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

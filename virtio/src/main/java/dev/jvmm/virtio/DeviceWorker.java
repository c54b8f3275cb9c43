package dev.jvmm.virtio;

import dev.jvmm.sys.Epoll;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Fd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One device thread: blocks in epoll on a set of fds (queue kick eventfds, a TAP queue) and hands each ready
 * token to the device. A guest protocol error ({@link GuestProtocolException}) puts the device in NEEDS_RESET
 * and the thread keeps running (it only drains its eventfds) until the driver resets the device, which stops
 * the thread through its stop eventfd. Any other exception is a VMM bug: it is logged with the device's name,
 * the device goes to NEEDS_RESET, and the thread still stays alive.
 */
public final class DeviceWorker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DeviceWorker.class);
    private static final long STOP = -1;

    /** Handles one ready fd. */
    @FunctionalInterface
    public interface Handler {
        void ready(long token, int events);
    }

    private final String name;
    private final Epoll epoll;
    private final EventFd stop;
    private final Handler handler;
    private final VirtioInterrupts interrupts;
    private final Thread thread;
    private volatile boolean broken;
    private volatile boolean running = true;
    private long errors;

    public DeviceWorker(String name, Handler handler, VirtioInterrupts interrupts) {
        this.name = name;
        this.handler = handler;
        this.interrupts = interrupts;
        this.epoll = Epoll.create(name, 16);
        this.stop = EventFd.create(name + "-stop");
        epoll.add(stop, Epoll.EPOLLIN, STOP);
        this.thread = new Thread(this::loop, name);
        thread.setDaemon(true);
    }

    /** Watches {@code fd} for input; {@code token} comes back in {@link Handler#ready}. */
    public DeviceWorker watch(Fd fd, long token) {
        epoll.add(fd, Epoll.EPOLLIN, token);
        return this;
    }

    /** Turns input interest for {@code fd} on or off (rx stops watching the TAP while the guest has no buffers). */
    public void setInterest(Fd fd, long token, boolean on) {
        epoll.modify(fd, on ? Epoll.EPOLLIN : 0, token);
    }

    /**
     * Watches {@code fd} for {@code events} ({@link Epoll#EPOLLIN}, {@link Epoll#EPOLLOUT}; 0 watches only for
     * EPOLLHUP and EPOLLERR, which epoll always reports). Throws {@link dev.jvmm.sys.ErrnoException} when epoll
     * refuses the fd (EPERM: a regular file or /dev/null, which cannot be polled).
     */
    public void watch(Fd fd, long token, int events) {
        epoll.add(fd, events, token);
    }

    /** Changes the events {@code fd} is watched for (see {@link #watch(Fd, long, int)}). */
    public void setEvents(Fd fd, long token, int events) {
        epoll.modify(fd, events, token);
    }

    /** Stops watching {@code fd} (closing an fd also ends its watch, once no other descriptor refers to its file). */
    public void unwatch(Fd fd) {
        epoll.remove(fd);
    }

    public void start() {
        thread.start();
    }

    public String name() {
        return name;
    }

    public boolean isAlive() {
        return thread.isAlive();
    }

    /** Whether a guest error stopped request processing (until reset). */
    public boolean broken() {
        return broken;
    }

    private void loop() {
        while (running) {
            int n = epoll.await(-1);
            for (int i = 0; i < n; i++) {
                long token = epoll.token(i);
                if (token == STOP) {
                    running = false;
                    break;
                }
                if (broken) {
                    continue; // level-triggered eventfds are drained by the handler normally; park instead
                }
                try {
                    handler.ready(token, epoll.events(i));
                } catch (GuestProtocolException e) {
                    fail("guest protocol error: " + e.getMessage(), null);
                } catch (RuntimeException e) {
                    fail("internal error: " + e, e);
                }
            }
            if (broken && running) {
                // nothing to do until reset: wait only for the stop signal
                parkUntilStopped();
            }
        }
    }

    private void parkUntilStopped() {
        try (Epoll only = Epoll.create(name + "-parked", 1)) {
            only.add(stop, Epoll.EPOLLIN, STOP);
            while (running && only.await(-1) == 0) {
                // EINTR: wait again
            }
            running = false;
        }
    }

    private void fail(String why, Throwable t) {
        broken = true;
        errors++;
        if (errors <= 10 || Long.bitCount(errors) == 1) {
            if (t != null) {
                log.error("{}: {} — device needs reset", name, why, t);
            } else {
                log.warn("{}: {} — device needs reset", name, why);
            }
        }
        interrupts.needsReset(why);
    }

    /** Stops and joins the thread, then closes the epoll and stop eventfd. Idempotent. */
    @Override
    public void close() {
        if (stop.isOpen()) {
            if (thread.isAlive()) {
                stop.signal();
                boolean interrupted = false;
                for (;;) {
                    try {
                        thread.join();
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
            epoll.close();
            stop.close();
        }
    }
}

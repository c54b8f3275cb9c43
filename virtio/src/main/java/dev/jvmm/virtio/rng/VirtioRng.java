package dev.jvmm.virtio.rng;

import dev.jvmm.sys.Epoll;
import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.TimerFd;
import dev.jvmm.virtio.DescriptorChain;
import dev.jvmm.virtio.DeviceWorker;
import dev.jvmm.virtio.GuestProtocolException;
import dev.jvmm.virtio.Iovecs;
import dev.jvmm.virtio.VirtQueue;
import dev.jvmm.virtio.VirtioDevice;
import dev.jvmm.virtio.VirtioException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * virtio-rng, the entropy device (virtio 1.2 §5.4): one request queue whose device-writable buffers are filled from a
 * host source ({@code /dev/urandom} by default), with {@code readv} straight into guest RAM. The device has no
 * configuration space and no feature bits of its own.
 *
 * <p>Rate limit, as QEMU's {@code max-bytes}/{@code period}: at most {@code maxBytes} bytes per window of
 * {@code periodNanos}; a window opens when a request finds the previous one over. A buffer gets what is left of the
 * window's budget (it may be used in part, as the spec allows); once the budget is spent the remaining requests stay
 * in the ring, unpopped, and a timerfd in the device thread's epoll fires at the window's end, so the device neither
 * sleeps nor spins while it waits. Requests waiting like this are also what a quiesce leaves in the ring, so a saved
 * state holds nothing of the device's own: the restored device serves them when it starts.
 *
 * <p>The source is read without blocking: a source with nothing to give now ({@code EAGAIN}: an entropy pool not yet
 * initialised, a FIFO) is watched in the epoll until it can; one that ends (EOF of a file) or fails is logged once and
 * the requests then wait, unanswered, as on a host without entropy.
 */
public final class VirtioRng extends VirtioDevice {
    private static final Logger log = LoggerFactory.getLogger(VirtioRng.class);
    /** Virtio device ID of an entropy source. */
    public static final int DEVICE_TYPE = 4;
    public static final int QUEUE_SIZE = 64;
    /** The most one buffer is given at once (a hostile 4 GiB buffer must not hold the thread in one readv). */
    static final long MAX_CHUNK = 64 * 1024;
    private static final long TOKEN_KICK = 0, TOKEN_TIMER = 1, TOKEN_SOURCE = 2;

    private final String sourcePath;
    private final Fd source;
    private final long maxBytes;
    private final long periodNanos;
    private Worker worker;
    /** The rate limit's window: its end (System.nanoTime; 0: none open) and the bytes left in it. Device thread only. */
    private long windowEnd;
    private long budget;
    private final AtomicLong bytes = new AtomicLong(), requests = new AtomicLong(), deferrals = new AtomicLong(),
            windows = new AtomicLong(), mostInAWindow = new AtomicLong();
    /** Why the source gives nothing more (its end, an error), or null. */
    private volatile String sourceGone;

    /**
     * A device reading {@code source}, with at most {@code maxBytes} bytes per {@code periodNanos} ({@code maxBytes}
     * 0: no limit). The source is opened now (non-blocking, read-only); a source that cannot be opened is a
     * {@link VirtioException} of reason BACKEND naming it and the errno.
     */
    public VirtioRng(String name, String source, long maxBytes, long periodNanos) {
        super(name, 0);
        if (maxBytes < 0 || (maxBytes > 0 && periodNanos <= 0)) {
            throw new IllegalArgumentException(name + ": rate limit " + maxBytes + " bytes per " + periodNanos + " ns");
        }
        this.sourcePath = source;
        this.maxBytes = maxBytes;
        this.periodNanos = periodNanos;
        try {
            this.source = Fd.open(source, Native.O_RDONLY | Native.O_NONBLOCK);
        } catch (ErrnoException e) {
            throw new VirtioException(VirtioException.Reason.BACKEND, "cannot open the entropy source " + source + ": "
                    + e.getMessage(), e);
        }
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public int pciClass() {
        return 0xff0000; // unassigned class (PCI_CLASS_OTHERS), as QEMU's virtio-rng-pci
    }

    @Override
    public long deviceFeatures() {
        return 0;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int maxSegments(int queue) {
        return QUEUE_SIZE;
    }

    public String source() {
        return sourcePath;
    }

    /** The rate limit's bytes per period; 0: no limit. */
    public long maxBytes() {
        return maxBytes;
    }

    public long periodNanos() {
        return periodNanos;
    }

    /** Bytes given to the guest so far. */
    public long bytesServed() {
        return bytes.get();
    }

    /** Buffers given back to the guest so far. */
    public long requestsServed() {
        return requests.get();
    }

    /** Times the rate limit made requests wait for the next window. */
    public long deferrals() {
        return deferrals.get();
    }

    /** Rate-limit windows opened so far. */
    public long windows() {
        return windows.get();
    }

    /** The most bytes given in one rate-limit window so far (never more than {@link #maxBytes()}). */
    public long mostInAWindow() {
        return mostInAWindow.get();
    }

    /** Why the source gives nothing more, or null while it works. */
    public String sourceGone() {
        return sourceGone;
    }

    public synchronized boolean threadAlive() {
        return worker != null && worker.thread.isAlive();
    }

    @Override
    protected void startWorkers(Activation a) {
        VirtQueue q = a.queues()[0];
        if (!q.isReady()) {
            return;
        }
        worker = new Worker(a, q);
        worker.thread.start();
    }

    /** The thread finishes the request it is on; requests the rate limit holds back stay in the ring. */
    @Override
    protected void stopWorkers() {
        if (worker != null) {
            worker.close();
            worker = null;
        }
    }

    @Override
    protected boolean workersRunning() {
        return worker != null;
    }

    @Override
    public synchronized void reset() {
        stopWorkers();
        setActivation(null);
        windowEnd = 0;
        budget = 0;
    }

    @Override
    public void close() {
        reset();
        if (source.isOpen() && requests.get() > 0) {
            log.info("{}: {} bytes in {} requests from {}{}", name(), bytes.get(), requests.get(), sourcePath,
                    maxBytes == 0 ? "" : "; rate limit " + maxBytes + " bytes per " + periodNanos / 1_000_000 + " ms: "
                    + windows.get() + " windows, at most " + mostInAWindow.get() + " bytes in one, " + deferrals.get()
                    + " waits for the next");
        }
        source.close();
    }

    /** The device thread: the queue's kicks, the rate limit's timer and, while it has nothing to give, the source. */
    private final class Worker implements AutoCloseable {
        final DeviceWorker thread;
        final VirtQueue q;
        final EventFd kick;
        final TimerFd timer;
        final Activation a;
        final Iovecs iov = new Iovecs(QUEUE_SIZE);
        boolean sourceWatched;
        boolean timerArmed;

        Worker(Activation a, VirtQueue q) {
            this.a = a;
            this.q = q;
            this.kick = a.kicks()[0];
            this.thread = new DeviceWorker(name(), this::ready, a.interrupts());
            TimerFd t = null;
            try {
                thread.watch(kick, TOKEN_KICK);
                if (maxBytes > 0) {
                    t = TimerFd.create(name() + "-limit");
                    thread.watch(t, TOKEN_TIMER);
                }
            } catch (RuntimeException e) {
                if (t != null) {
                    t.close();
                }
                thread.close();
                iov.close();
                throw e;
            }
            this.timer = t;
        }

        void ready(long token, int events) {
            if (token == TOKEN_KICK) {
                kick.drain();
            } else if (token == TOKEN_TIMER) {
                timer.drain();
                timerArmed = false;
            } else if (token == TOKEN_SOURCE) {
                thread.unwatch(source); // readable again (or hung up): read below, and watch again on EAGAIN
                sourceWatched = false;
            }
            serve();
        }

        void serve() {
            if (sourceGone != null || sourceWatched || timerArmed) {
                return; // waiting for the source or the next window; the kick's chains stay in the ring
            }
            boolean any = false;
            // pop until the ring is empty: with EVENT_IDX it is pop finding it empty that asks the driver to kick for
            // the next request (avail_event); a device that stopped at "nothing available" would never hear of it
            DescriptorChain c;
            while ((c = q.pop()) != null) {
                if (c.readableCount() != 0) {
                    q.undoPop();
                    throw new GuestProtocolException(GuestProtocolException.Reason.WRONG_DIRECTION, name()
                            + ": request " + c.head() + " has device-readable descriptors (the driver must give "
                            + "device-writable buffers only)");
                }
                long allowance = MAX_CHUNK;
                if (maxBytes > 0) {
                    long now = System.nanoTime();
                    if (windowEnd == 0 || now - windowEnd >= 0) {
                        windowEnd = now + periodNanos;
                        budget = maxBytes;
                        windows.incrementAndGet();
                    }
                    if (budget == 0) {
                        q.undoPop(); // it and the rest wait for the timer to open the next window
                        timer.arm(windowEnd - now);
                        timerArmed = true;
                        deferrals.incrementAndGet();
                        break;
                    }
                    allowance = Math.min(allowance, budget);
                }
                long want = Math.min(c.writableBytes(), allowance);
                iov.fill(c, 0, c.count(), 0, c.writableBytes() - want);
                long n;
                do {
                    n = Native.LIBC.readv(source.fd(), iov.address(), iov.count());
                } while (Iovecs.interrupted(n));
                if (n <= 0) {
                    q.undoPop();
                    int errno = n < 0 ? Native.errno() : 0;
                    if (n < 0 && errno == Errno.EAGAIN) {
                        waitForSource();
                    } else {
                        sourceGone = n == 0 ? "its end was reached" : "read failed with errno " + errno;
                        log.warn("{}: the entropy source {}: {}; the guest's requests wait unanswered from now on",
                                name(), sourcePath, sourceGone);
                    }
                    break;
                }
                if (maxBytes > 0) {
                    budget -= n;
                    mostInAWindow.accumulateAndGet(maxBytes - budget, Math::max);
                }
                q.addUsed(c, n); // marks the buffer dirty for a migration
                bytes.addAndGet(n);
                requests.incrementAndGet();
                any = true;
            }
            if (any && q.needsInterrupt()) {
                a.interrupts().signalQueue(0);
            }
        }

        /** The source has nothing now: watch it until it has (a source epoll cannot watch would never say EAGAIN). */
        private void waitForSource() {
            try {
                thread.watch(source, TOKEN_SOURCE, Epoll.EPOLLIN);
                sourceWatched = true;
            } catch (ErrnoException e) {
                sourceGone = "it has nothing to give and cannot be waited for (" + e.getMessage() + ")";
                log.warn("{}: the entropy source {}: {}", name(), sourcePath, sourceGone);
            }
        }

        @Override
        public void close() {
            thread.close(); // closes the epoll: the source's watch goes with it
            if (timer != null) {
                timer.close();
            }
            iov.close();
        }
    }
}

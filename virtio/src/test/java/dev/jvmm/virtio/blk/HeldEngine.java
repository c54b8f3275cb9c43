package dev.jvmm.virtio.blk;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Fd;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * An engine for tests that holds every request it is given until the test lets it go: {@link #release} does the
 * request's real system call on the test's thread (or reports a result the test makes up, e.g. a short transfer) and
 * hands it back to its queue, in whatever order the test chooses. With {@link #passThrough} on it serves each request
 * at once on the queue's thread.
 */
final class HeldEngine implements BlkEngine {
    /** What a request looked like when it was submitted. */
    record Submitted(int op, long offset, long length, int slot) {
        boolean isWrite() {
            return op == BlkRequest.WRITE;
        }

        boolean isFlush() {
            return op == BlkRequest.FLUSH;
        }
    }

    private final List<Submitted> submitted = new ArrayList<>();
    private final List<BlkRequest> held = new ArrayList<>();
    private final List<HeldQueue> queues = new ArrayList<>();
    volatile boolean passThrough;
    volatile boolean closed;

    @Override
    public AioMode mode() {
        return AioMode.THREADS;
    }

    @Override
    public synchronized Queue open(String name, BlkRequest[] slots) {
        HeldQueue q = new HeldQueue(name);
        queues.add(q);
        return q;
    }

    @Override
    public void close() {
        closed = true;
    }

    /** Everything submitted so far, in order (resubmissions included). */
    synchronized List<Submitted> submitted() {
        return new ArrayList<>(submitted);
    }

    synchronized int heldCount() {
        return held.size();
    }

    /** Waits (up to 10 s) until {@code n} requests were submitted in all. */
    List<Submitted> awaitSubmitted(int n) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        synchronized (this) {
            while (submitted.size() < n && System.nanoTime() < deadline) {
                wait(10);
            }
            if (submitted.size() < n) {
                throw new AssertionError("only " + submitted.size() + " of " + n + " requests submitted: " + submitted);
            }
            return new ArrayList<>(submitted);
        }
    }

    /** Serves the held requests {@code which} matches, in the order held, with their real system call. */
    int release(Predicate<Submitted> which) {
        return release(which, null);
    }

    /**
     * Serves the held requests {@code which} matches: does the real system call, then reports {@code result} instead
     * of its own when {@code result} is non-null (a made-up short transfer, EAGAIN, an I/O error).
     */
    int release(Predicate<Submitted> which, Long result) {
        List<BlkRequest> go = new ArrayList<>();
        synchronized (this) {
            for (BlkRequest r : new ArrayList<>(held)) {
                if (which.test(describe(r))) {
                    held.remove(r);
                    go.add(r);
                }
            }
        }
        for (BlkRequest r : go) {
            long res = result != null && result == -Errno.EAGAIN ? 0 : r.perform();
            ((HeldQueue) r.owner).finished(r, result != null ? result : res);
        }
        return go.size();
    }

    private static Submitted describe(BlkRequest r) {
        return new Submitted(r.op, r.offset, r.remaining, r.index);
    }

    final class HeldQueue implements Queue {
        private final EventFd done;
        private final List<BlkRequest> finished = new ArrayList<>();

        HeldQueue(String name) {
            done = EventFd.create(name + "-held");
        }

        @Override
        public Fd completionFd() {
            return done;
        }

        @Override
        public void submit(BlkRequest r) {
            r.owner = this;
            synchronized (HeldEngine.this) {
                submitted.add(describe(r));
                HeldEngine.this.notifyAll();
                if (!passThrough) {
                    held.add(r);
                    return;
                }
            }
            finished(r, r.perform());
        }

        @Override
        public void commit() {
        }

        void finished(BlkRequest r, long res) {
            synchronized (this) {
                r.result = res;
                finished.add(r);
                notifyAll();
                done.signal(); // under the lock, as ThreadPoolEngine: a draining queue closes it once it has r
            }
        }

        @Override
        public synchronized boolean ready() {
            return !finished.isEmpty();
        }

        @Override
        public int reap(Done d) {
            done.drain();
            List<BlkRequest> out;
            synchronized (this) {
                out = new ArrayList<>(finished);
                finished.clear();
            }
            for (BlkRequest r : out) {
                d.done(r, r.result);
            }
            return out.size();
        }

        @Override
        public synchronized void await() {
            while (finished.isEmpty()) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }

        @Override
        public synchronized void close() {
            done.close();
        }
    }
}

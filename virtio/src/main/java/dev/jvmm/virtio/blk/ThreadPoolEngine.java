package dev.jvmm.virtio.blk;

import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Fd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code aio=threads}: a bounded pool of I/O threads per disk ({@code virtio-blk-0-io0}, …) that take requests from
 * every queue of the disk in submission order and do each one's preadv/pwritev/fdatasync, so that as many requests as
 * there are threads are in the kernel at once. A finished request goes back to its queue's completion list and the
 * queue's eventfd is signalled; its thread writes the used ring.
 *
 * <p>Nothing is allocated per request: the work list and the completion lists link the requests themselves
 * ({@link BlkRequest#next}) under plain monitors. Threads start with the first queue and stop on {@link #close()}.
 */
final class ThreadPoolEngine implements BlkEngine {
    private static final Logger log = LoggerFactory.getLogger(ThreadPoolEngine.class);
    /** Threads per disk unless told otherwise: enough for a guest at queue depth 8 on a fast device. */
    static final int DEFAULT_THREADS = 8;

    private final String name;
    private final Thread[] threads;
    private BlkRequest head, tail; // the work list, guarded by this
    private boolean started, stopping;

    ThreadPoolEngine(String name, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException(name + ": " + threads + " I/O threads");
        }
        this.name = name;
        this.threads = new Thread[threads];
    }

    @Override
    public AioMode mode() {
        return AioMode.THREADS;
    }

    int threads() {
        return threads.length;
    }

    @Override
    public synchronized Queue open(String queueName, BlkRequest[] slots) {
        if (stopping) {
            throw new IllegalStateException(name + ": I/O threads stopped");
        }
        if (!started) {
            for (int i = 0; i < threads.length; i++) {
                Thread t = new Thread(this::loop, name + "-io" + i);
                t.setDaemon(true);
                threads[i] = t;
                t.start();
            }
            started = true;
        }
        return new PoolQueue(queueName);
    }

    private void loop() {
        for (;;) {
            BlkRequest r;
            synchronized (this) {
                while (head == null && !stopping) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        // only close() stops the pool
                    }
                }
                if (head == null) {
                    return;
                }
                r = head;
                head = r.next;
                if (head == null) {
                    tail = null;
                }
                r.next = null;
            }
            long res;
            try {
                res = r.perform();
            } catch (RuntimeException e) {
                log.error("{}: I/O thread failed on a request", name, e);
                res = -dev.jvmm.sys.Errno.EIO;
            }
            ((PoolQueue) r.owner).finished(r, res);
        }
    }

    private synchronized void enqueue(BlkRequest r) {
        r.next = null;
        if (tail == null) {
            head = tail = r;
        } else {
            tail.next = r;
            tail = r;
        }
        notify();
    }

    @Override
    public void close() {
        synchronized (this) {
            if (stopping) {
                return;
            }
            stopping = true;
            notifyAll();
        }
        boolean interrupted = false;
        for (Thread t : threads) {
            while (t != null && t.isAlive()) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** One queue: its finished requests, linked, and the eventfd that tells its thread. */
    private final class PoolQueue implements Queue {
        private final EventFd done;
        private BlkRequest doneHead, doneTail; // guarded by this

        PoolQueue(String queueName) {
            this.done = EventFd.create(queueName + "-done");
        }

        @Override
        public Fd completionFd() {
            return done;
        }

        @Override
        public void submit(BlkRequest r) {
            r.owner = this;
            enqueue(r);
        }

        @Override
        public void commit() {
        }

        void finished(BlkRequest r, long res) {
            r.result = res;
            synchronized (this) {
                r.next = null;
                if (doneTail == null) {
                    doneHead = doneTail = r;
                } else {
                    doneTail.next = r;
                    doneTail = r;
                }
                notifyAll();
                // under the lock: a queue that drains on await() may close the eventfd as soon as it has the request
                done.signal();
            }
        }

        @Override
        public synchronized boolean ready() {
            return doneHead != null;
        }

        @Override
        public int reap(Done d) {
            done.drain(); // before taking the list: a request finished after this signals again
            BlkRequest r;
            synchronized (this) {
                r = doneHead;
                doneHead = doneTail = null;
            }
            int n = 0;
            while (r != null) {
                BlkRequest next = r.next;
                r.next = null;
                n++;
                d.done(r, r.result);
                r = next;
            }
            return n;
        }

        @Override
        public synchronized void await() {
            boolean interrupted = false;
            while (doneHead == null) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    interrupted = true; // the request is in the kernel: it cannot be abandoned
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public synchronized void close() {
            done.close();
        }
    }
}

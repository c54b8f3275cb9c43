package dev.jvmm.virtio.blk;

import dev.jvmm.sys.Fd;

/**
 * Where a virtio-blk queue's requests are served while the queue thread goes on popping the next ones: a pool of
 * I/O threads ({@link ThreadPoolEngine}) or an io_uring per queue ({@link UringEngine}). One per disk; each queue
 * opens its own {@link Queue} over its request slots.
 */
interface BlkEngine extends AutoCloseable {
    /** {@code threads} or {@code io_uring} (the {@code aio=} name). */
    AioMode mode();

    /** Opens one queue's channel over {@code slots} (indexed by {@link BlkRequest#index}). */
    Queue open(String name, BlkRequest[] slots);

    /** Stops the engine's threads; its queues must be closed first (nothing in flight). Idempotent. */
    @Override
    void close();

    /** What the queue thread hands finished requests to, with the result of their system call. */
    @FunctionalInterface
    interface Done {
        void done(BlkRequest r, long result);
    }

    /**
     * One queue's submissions and completions. Only the queue's thread calls these (or, once it is joined, the thread
     * that stops it).
     */
    interface Queue extends AutoCloseable {
        /** Readable when completions wait for {@link #reap}; the queue thread watches it with its kick eventfd. */
        Fd completionFd();

        /** Hands {@code r} (op, fd, iovecs, offset set) over; may wait for {@link #commit} to leave. */
        void submit(BlkRequest r);

        /** Sends what {@link #submit} queued (one io_uring_enter for a batch). Never throws for a failed request. */
        void commit();

        /**
         * Whether finished requests wait for {@link #reap} now (a cheap look, no system call): io_uring completes page
         * cache hits inside the io_uring_enter that submits them, and the queue takes those without a trip through
         * epoll.
         */
        boolean ready();

        /** Hands every finished request to {@code done}, once each; returns how many. Clears the completion fd. */
        int reap(Done done);

        /** Blocks until a completion may be waiting (for draining a queue that stops). */
        void await();

        /** Frees the queue's kernel objects; nothing may be in flight. Idempotent. */
        @Override
        void close();
    }
}

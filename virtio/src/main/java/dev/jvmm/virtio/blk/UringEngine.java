package dev.jvmm.virtio.blk;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.uring.IoUring;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code aio=io_uring}: an io_uring per queue, with as many entries as the queue has slots, owned by the queue's
 * thread. A batch of popped requests becomes a batch of READV/WRITEV/FSYNC entries handed to the kernel by one
 * io_uring_enter; the ring's registered eventfd wakes the queue thread for the completions. With O_DIRECT the reads
 * and writes go to the block layer without any thread of ours or the kernel's waiting on them; buffered ones the
 * kernel serves inline (page cache hits) or from its own workers.
 */
final class UringEngine implements BlkEngine {
    private static final Logger log = LoggerFactory.getLogger(UringEngine.class);

    @Override
    public AioMode mode() {
        return AioMode.IO_URING;
    }

    /**
     * @throws ErrnoException when the kernel refuses a ring (the caller falls back to threads)
     */
    @Override
    public Queue open(String name, BlkRequest[] slots) {
        return new RingQueue(name, slots);
    }

    @Override
    public void close() {
    }

    private static final class RingQueue implements Queue, IoUring.Completion {
        private final String name;
        private final BlkRequest[] slots;
        private final IoUring ring;
        private final EventFd done;
        /** Requests the kernel did not take (io_uring_enter failed): finished with the error by the next reap. */
        private BlkRequest failedHead, failedTail;
        private Done current;

        RingQueue(String name, BlkRequest[] slots) {
            this.name = name;
            this.slots = slots;
            // twice the slots in the CQ ring: a completion never waits in the kernel's overflow list
            IoUring r = IoUring.setup(slots.length, 2 * slots.length, name);
            EventFd e = null;
            try {
                e = EventFd.create(name + "-cq");
                r.registerEventFd(e);
            } catch (RuntimeException ex) {
                if (e != null) {
                    e.close();
                }
                r.close();
                throw ex;
            }
            this.ring = r;
            this.done = e;
        }

        @Override
        public Fd completionFd() {
            return done;
        }

        @Override
        public void submit(BlkRequest r) {
            boolean ok;
            int n = Math.min(r.iov.count(), 1024);
            do {
                ok = switch (r.op) {
                    case BlkRequest.READ -> ring.prepareReadv(r.fd, r.iov.address(), n, r.offset, r.index);
                    case BlkRequest.WRITE -> ring.prepareWritev(r.fd, r.iov.address(), n, r.offset, r.index);
                    case BlkRequest.FLUSH -> ring.prepareFsync(r.fd, true, r.index);
                    default -> throw new IllegalStateException("request op " + r.op);
                };
                if (!ok) {
                    commit(); // the SQ ring is as large as the slots: only a resubmission in a full batch gets here
                }
            } while (!ok);
        }

        @Override
        public void commit() {
            if (ring.prepared() == 0) {
                return;
            }
            try {
                ring.submit();
            } catch (ErrnoException e) {
                int n = ring.discardUnsubmitted(e.errno(), this::failed);
                log.warn("{}: {}; {} request(s) fail with {}", name, e.getMessage(), n, e.errnoName());
                done.signal();
            }
        }

        private void failed(long userData, int res) {
            BlkRequest r = slots[(int) userData];
            r.result = res;
            r.next = null;
            if (failedTail == null) {
                failedHead = failedTail = r;
            } else {
                failedTail.next = r;
                failedTail = r;
            }
        }

        @Override
        public boolean ready() {
            return failedHead != null || ring.completionsReady() > 0;
        }

        @Override
        public int reap(Done d) {
            done.drain();
            int n = 0;
            while (failedHead != null) {
                BlkRequest r = failedHead;
                failedHead = r.next;
                if (failedHead == null) {
                    failedTail = null;
                }
                r.next = null;
                n++;
                d.done(r, r.result);
            }
            current = d;
            try {
                return n + ring.reap(this);
            } finally {
                current = null;
            }
        }

        /** One CQE: user_data is the slot's index. */
        @Override
        public void complete(long userData, int res) {
            if (userData < 0 || userData >= slots.length) {
                log.error("{}: completion for unknown slot {} (res {})", name, userData, res);
                return;
            }
            current.done(slots[(int) userData], res);
        }

        @Override
        public void await() {
            if (failedHead == null) {
                ring.awaitCompletion();
            }
        }

        @Override
        public void close() {
            ring.close();
            done.close();
        }
    }
}

package dev.jvmm.virtio.blk;

import static dev.jvmm.virtio.VirtQueue.*;
import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.Epoll;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;

/**
 * A simulated driver that keeps many virtio-blk requests in flight on one queue, as a guest at queue depth does:
 * request {@code k} uses descriptors {@code 3k..3k+2} (header, one data buffer, status), its own header and status
 * bytes, and completions are found by walking the used ring from where it was last read. Waiting is on the queue's
 * MSI-X eventfd (the real interrupt), through epoll. For tests and the benchmark.
 */
final class DepthDriver implements AutoCloseable {
    final GuestMemory mem;
    final PciTestDriver drv;
    final int q;
    final long hdrBase, statusBase;
    private final Epoll epoll;
    private final TestIrqs.Vector vector;
    private int seenUsed;

    /** Completion of one request: which request ({@code k}), its status and used length. */
    interface Completion {
        void done(int k, int status, int usedLen);
    }

    DepthDriver(GuestMemory mem, PciTestDriver drv, TestIrqs irqs, int q, long hdrBase, long statusBase) {
        this.mem = mem;
        this.drv = drv;
        this.q = q;
        this.hdrBase = hdrBase;
        this.statusBase = statusBase;
        this.vector = irqs.vectors.get(q);
        this.epoll = Epoll.create("depth-driver", 1);
        epoll.add(vector.eventFd(), Epoll.EPOLLIN, 0);
        this.seenUsed = ring().usedIdx();
    }

    TestDriver ring() {
        return drv.rings.get(q);
    }

    /** Most requests that fit the ring at once (3 descriptors each). */
    int capacity() {
        return ring().size / 3;
    }

    /** Publishes request {@code k} without kicking: {@code type} at {@code sector}, {@code len} bytes at {@code buf}. */
    void publish(int k, int type, long sector, long buf, int len) {
        TestDriver t = ring();
        long hdr = hdrBase + 16L * k, status = statusBase + k;
        mem.putInt(hdr, type);
        mem.putInt(hdr + 4, 0);
        mem.putLong(hdr + 8, sector);
        mem.putByte(status, 0xee);
        int head = 3 * k;
        if (len > 0) {
            t.desc(head, hdr, 16, VIRTQ_DESC_F_NEXT, head + 1);
            t.desc(head + 1, buf, len, VIRTQ_DESC_F_NEXT | (type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0), head + 2);
        } else {
            t.desc(head, hdr, 16, VIRTQ_DESC_F_NEXT, head + 2);
        }
        t.desc(head + 2, status, 1, VIRTQ_DESC_F_WRITE, 0);
        t.publish(head);
    }

    void kick() {
        drv.kick(q);
    }

    /**
     * Waits (up to 30 s) for the interrupt, then hands every new used element to {@code c}. Returns how many, 0 after
     * the timeout.
     */
    int awaitCompletions(Completion c) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        for (;;) {
            int n = poll(c);
            if (n > 0) {
                return n;
            }
            // as Linux's virtqueue_enable_cb with EVENT_IDX: interrupt me at the next used element, then look again
            ring().setUsedEvent(seenUsed);
            java.lang.invoke.VarHandle.fullFence();
            n = poll(c);
            if (n > 0) {
                return n;
            }
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                return 0;
            }
            if (epoll.await((int) Math.min(left, 1000)) > 0) {
                vector.drain();
            }
        }
    }

    /** Hands every new used element to {@code c} without waiting. */
    int poll(Completion c) {
        TestDriver t = ring();
        int now = t.usedIdx();
        int n = 0;
        while (seenUsed != now) {
            int slot = seenUsed & 0xffff;
            int head = t.usedId(slot);
            int k = head / 3;
            c.done(k, mem.getByte(statusBase + k) & 0xff, t.usedLen(slot));
            seenUsed = (seenUsed + 1) & 0xffff;
            n++;
        }
        return n;
    }

    /** Waits until {@code n} requests completed in all, checking each one's status. */
    void awaitAll(int n, int status) {
        int[] got = {0};
        while (got[0] < n) {
            if (awaitCompletions((k, s, len) -> {
                if (s != status) {
                    throw new AssertionError("request " + k + ": status " + s + ", expected " + status);
                }
                got[0]++;
            }) == 0) {
                throw new AssertionError("only " + got[0] + " of " + n + " requests completed in 30 s");
            }
        }
    }

    @Override
    public void close() {
        epoll.close();
    }
}

package dev.jvmm.virtio.blk;

import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;

import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.virtio.DescriptorChain;
import dev.jvmm.virtio.DeviceWorker;
import dev.jvmm.virtio.GuestProtocolException;
import dev.jvmm.virtio.Iovecs;
import dev.jvmm.virtio.VirtQueue;
import dev.jvmm.virtio.VirtioDevice;
import dev.jvmm.virtio.VirtioInterrupts;
import dev.jvmm.virtio.blk.VirtioBlkLayout.Config;
import dev.jvmm.virtio.blk.VirtioBlkLayout.DiscardWriteZeroes;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * virtio-blk (virtio 1.2 §5.2) over a {@link BlockBackend}: read, write, flush, get-id, discard and
 * write-zeroes; read-only disks; SEG_MAX/SIZE_MAX; multiqueue with one thread per queue ({@code virtio-blk-0},
 * {@code virtio-blk-0-q1}, …). Reads and writes are preadv/pwritev with iovecs pointing into guest RAM. With
 * O_DIRECT (cache=none) a request whose guest buffers are not 512-byte aligned goes through a bounce buffer
 * (counted in {@link #bounced()}).
 *
 * <p>Errors: a host I/O error or an out-of-range sector answers VIRTIO_BLK_S_IOERR, an unknown request type
 * UNSUPP. A chain that cannot carry a status (no writable last byte, header too short) is a protocol error:
 * the device goes to NEEDS_RESET.
 */
public final class VirtioBlk extends VirtioDevice {
    private static final Logger log = LoggerFactory.getLogger(VirtioBlk.class);
    public static final int QUEUE_SIZE = 256;
    /** Segments per request the driver may use (SEG_MAX); the chain may add header and status. */
    public static final int SEG_MAX = QUEUE_SIZE - 2;
    public static final int SIZE_MAX = 1 << 20;
    private static final int SECTOR = 512;
    private static final long BOUNCE_SIZE = 1 << 20;

    private final BlockBackend backend;
    private final int queues;
    private final byte[] id;
    private final List<Worker> workers = new ArrayList<>();
    private final AtomicLong bounced = new AtomicLong();
    private final AtomicLong ioErrors = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong writes = new AtomicLong();
    private final AtomicLong flushes = new AtomicLong();
    /** Most chains found available at once by one worker (how many requests the guest keeps in flight). */
    private volatile int maxBatch;

    public VirtioBlk(String name, BlockBackend backend, int queues, String serial) {
        super(name, Config.SIZE);
        if (queues < 1 || queues > 64) {
            throw new IllegalArgumentException(name + ": " + queues + " queues (1..64)");
        }
        this.backend = backend;
        this.queues = queues;
        byte[] s = (serial == null ? name : serial).getBytes(StandardCharsets.US_ASCII);
        this.id = java.util.Arrays.copyOf(s, Math.min(s.length, VIRTIO_BLK_ID_BYTES));
        setConfig(Config.CAPACITY, 8, backend.size() / SECTOR);
        setConfig(Config.SIZE_MAX, 4, SIZE_MAX);
        setConfig(Config.SEG_MAX, 4, SEG_MAX);
        setConfig(Config.BLK_SIZE, 4, SECTOR);
        setConfig(Config.WCE, 1, backend.cache() == dev.jvmm.virtio.blk.CacheMode.WRITETHROUGH ? 0 : 1);
        setConfig(Config.NUM_QUEUES, 2, queues);
        setConfig(Config.MAX_DISCARD_SECTORS, 4, 0x3fffff);
        setConfig(Config.MAX_DISCARD_SEG, 4, 1);
        setConfig(Config.DISCARD_SECTOR_ALIGNMENT, 4, 4096 / SECTOR);
        setConfig(Config.MAX_WRITE_ZEROES_SECTORS, 4, 0x3fffff);
        setConfig(Config.MAX_WRITE_ZEROES_SEG, 4, 1);
        setConfig(Config.WRITE_ZEROES_MAY_UNMAP, 1, 1);
    }

    @Override
    public int deviceType() {
        return 2;
    }

    @Override
    public int pciClass() {
        return 0x018000; // mass storage, other
    }

    @Override
    public long deviceFeatures() {
        long f = 1L << VIRTIO_BLK_F_SIZE_MAX | 1L << VIRTIO_BLK_F_SEG_MAX | 1L << VIRTIO_BLK_F_BLK_SIZE
                | 1L << VIRTIO_BLK_F_FLUSH;
        if (queues > 1) {
            f |= 1L << VIRTIO_BLK_F_MQ;
        }
        if (backend.readOnly()) {
            f |= 1L << VIRTIO_BLK_F_RO;
        } else {
            f |= 1L << VIRTIO_BLK_F_DISCARD | 1L << VIRTIO_BLK_F_WRITE_ZEROES;
        }
        return f;
    }

    @Override
    public int queueCount() {
        return queues;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int maxSegments(int queue) {
        return SEG_MAX + 2;
    }

    public BlockBackend backend() {
        return backend;
    }

    /** Requests that went through the O_DIRECT bounce buffer because guest buffers were misaligned. */
    public long bounced() {
        return bounced.get();
    }

    public long ioErrors() {
        return ioErrors.get();
    }

    public long requests() {
        return requests.get();
    }

    /** Whether every device thread is running (they survive guest errors until reset). */
    public synchronized boolean threadsAlive() {
        return !workers.isEmpty() && workers.stream().allMatch(w -> w.thread.isAlive());
    }

    @Override
    public synchronized void activate(Activation a) {
        reset();
        setActivation(a);
        startWorkers(a);
    }

    @Override
    protected void startWorkers(Activation a) {
        int n = queues;
        if (!a.has(VIRTIO_BLK_F_MQ)) {
            n = 1;
        }
        for (int q = 0; q < n; q++) {
            if (!a.queues()[q].isReady()) {
                continue;
            }
            Worker w = new Worker(q == 0 ? name() : name() + "-q" + q, a.queues()[q], a.kicks()[q], a.interrupts());
            w.thread.watch(a.kicks()[q], q);
            workers.add(w);
        }
        for (Worker w : workers) {
            w.thread.start();
        }
    }

    @Override
    protected void stopWorkers() {
        for (Worker w : workers) {
            w.close();
        }
        workers.clear();
    }

    @Override
    protected boolean workersRunning() {
        return !workers.isEmpty();
    }

    @Override
    public synchronized void reset() {
        stopWorkers();
        setActivation(null);
    }

    /** Most requests one queue found pending at once (the guest's effective queue depth, as seen by the device). */
    public int maxBatch() {
        return maxBatch;
    }

    @Override
    public void close() {
        reset();
        if (requests.get() > 0) {
            log.debug("{}: {} requests ({} writes, {} flushes), {} bounced, {} I/O errors, at most {} pending at once",
                    name(), requests.get(), writes.get(), flushes.get(), bounced.get(), ioErrors.get(), maxBatch);
        }
        backend.close();
    }

    /** One queue's thread with its reusable iovec array and bounce buffer. */
    private final class Worker implements AutoCloseable {
        final DeviceWorker thread;
        final VirtQueue queue;
        final VirtioInterrupts irq;
        final dev.jvmm.sys.EventFd kick;
        final Iovecs iov = new Iovecs(SEG_MAX + 2);
        Mmap bounce;

        Worker(String threadName, VirtQueue queue, dev.jvmm.sys.EventFd kick, VirtioInterrupts irq) {
            this.queue = queue;
            this.kick = kick;
            this.irq = irq;
            this.thread = new DeviceWorker(threadName, (token, events) -> kicked(), irq);
        }

        void kicked() {
            // drain the kick eventfd first so that a kick arriving while we work is not lost
            kick.drain();
            boolean any = false;
            DescriptorChain c;
            int batch = queue.pending();
            if (batch > maxBatch) {
                maxBatch = batch;
            }
            while ((c = queue.pop()) != null) {
                long written = handle(c);
                // marks the data buffers, the GET_ID string and the status byte (all device-writable) for migration
                queue.addUsed(c, written);
                any = true;
            }
            if (any && queue.needsInterrupt()) {
                irq.signalQueue(queue.index());
            }
        }

        /** Serves one request; returns the bytes written into the chain (data + status). */
        long handle(DescriptorChain c) {
            requests.incrementAndGet();
            int n = c.count();
            if (c.readableBytes() < DiscardWriteZeroes.SIZEOF || c.writableCount() == 0) {
                throw new GuestProtocolException(GuestProtocolException.Reason.MALFORMED_REQUEST, name()
                        + ": request needs a 16-byte header and a writable status byte (readable "
                        + c.readableBytes() + ", writable " + c.writableBytes() + " bytes)");
            }
            long statusAddr = c.address(n - 1) + c.length(n - 1) - 1;
            int type;
            long sector;
            if (c.length(0) >= VirtioBlkLayout.OutHdr.SIZEOF) {
                type = Native.getInt(c.address(0) + VirtioBlkLayout.OutHdr.TYPE);
                sector = Native.getLong(c.address(0) + VirtioBlkLayout.OutHdr.SECTOR);
            } else {
                iov.fill(c, 0, c.readableCount(), 0, 0);
                long tmp = headerScratch();
                iov.copyOut(0, tmp, 16);
                type = Native.getInt(tmp);
                sector = Native.getLong(tmp + 8);
            }
            int r = c.readableCount();
            long readData = c.readableBytes() - VirtioBlkLayout.OutHdr.SIZEOF;
            long writeData = c.writableBytes() - 1;
            int status;
            long written = 1;
            switch (type) {
                case VIRTIO_BLK_T_IN -> {
                    if (readData != 0) {
                        status = VIRTIO_BLK_S_IOERR;
                        break;
                    }
                    iov.fill(c, r, n, 0, 1);
                    status = transfer(false, sector, writeData);
                    if (status == VIRTIO_BLK_S_OK) {
                        written += writeData;
                    }
                }
                case VIRTIO_BLK_T_OUT -> {
                    if (writeData != 0 || backend.readOnly()) {
                        status = VIRTIO_BLK_S_IOERR;
                        break;
                    }
                    writes.incrementAndGet();
                    iov.fill(c, 0, r, VirtioBlkLayout.OutHdr.SIZEOF, 0);
                    status = transfer(true, sector, readData);
                }
                case VIRTIO_BLK_T_FLUSH -> {
                    flushes.incrementAndGet();
                    status = backend.flush() == 0 ? VIRTIO_BLK_S_OK : ioError("flush", 0, 0);
                }
                case VIRTIO_BLK_T_GET_ID -> {
                    iov.fill(c, r, n, 0, 1);
                    long len = Math.min(writeData, VIRTIO_BLK_ID_BYTES);
                    long tmp = headerScratch();
                    Native.fill(tmp, VIRTIO_BLK_ID_BYTES, (byte) 0);
                    Native.put(tmp, id, 0, id.length);
                    iov.copyIn(tmp, len);
                    written += len;
                    status = VIRTIO_BLK_S_OK;
                }
                case VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES -> status = discardOrZero(c, type, readData);
                default -> status = VIRTIO_BLK_S_UNSUPP;
            }
            Native.putByte(statusAddr, (byte) status);
            return written;
        }

        private long headerScratch() {
            if (bounce == null) {
                bounce = Mmap.anonymous(BOUNCE_SIZE + 4096, name() + " bounce");
            }
            return bounce.address() + BOUNCE_SIZE;
        }

        private int discardOrZero(DescriptorChain c, int type, long readData) {
            if (backend.readOnly()) {
                return VIRTIO_BLK_S_IOERR;
            }
            if (readData != DiscardWriteZeroes.SIZEOF) {
                // one segment per request (max_*_seg = 1)
                return readData > 0 && readData % DiscardWriteZeroes.SIZEOF == 0 ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
            }
            iov.fill(c, 0, c.readableCount(), VirtioBlkLayout.OutHdr.SIZEOF, 0);
            long tmp = headerScratch();
            iov.copyOut(0, tmp, DiscardWriteZeroes.SIZEOF);
            long sector = Native.getLong(tmp + DiscardWriteZeroes.SECTOR);
            long count = Native.getInt(tmp + DiscardWriteZeroes.NUM_SECTORS) & 0xffffffffL;
            int flags = Native.getInt(tmp + DiscardWriteZeroes.FLAGS);
            if (!inRange(sector, count * SECTOR)) {
                return ioError(type == VIRTIO_BLK_T_DISCARD ? "discard" : "write-zeroes", sector, count * SECTOR);
            }
            int rc;
            if (type == VIRTIO_BLK_T_DISCARD) {
                if (flags != 0) {
                    return VIRTIO_BLK_S_UNSUPP;
                }
                rc = backend.discard(sector * SECTOR, count * SECTOR);
            } else {
                if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0) {
                    return VIRTIO_BLK_S_UNSUPP;
                }
                rc = backend.writeZeroes(sector * SECTOR, count * SECTOR, (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0);
            }
            return rc == 0 ? VIRTIO_BLK_S_OK : ioError(type == VIRTIO_BLK_T_DISCARD ? "discard" : "write-zeroes",
                    sector, count * SECTOR);
        }

        private boolean inRange(long sector, long len) {
            long cap = backend.size() / SECTOR;
            return sector >= 0 && sector <= cap && len >= 0 && len <= (cap - sector) * SECTOR;
        }

        /** preadv/pwritev of the iovecs at {@code sector}; returns the status. */
        private int transfer(boolean write, long sector, long len) {
            if (len % SECTOR != 0 || !inRange(sector, len)) {
                return ioError(write ? "write" : "read", sector, len);
            }
            if (len == 0) {
                return VIRTIO_BLK_S_OK;
            }
            long offset = sector * SECTOR;
            if (backend.direct() && !iov.aligned(SECTOR)) {
                bounced.incrementAndGet();
                return bounceTransfer(write, offset, len);
            }
            long done = 0;
            while (done < len) {
                long r = write ? Native.LIBC.pwritev(backend.fd(), iov.address(), Math.min(iov.count(), 1024), offset + done)
                        : Native.LIBC.preadv(backend.fd(), iov.address(), Math.min(iov.count(), 1024), offset + done);
                if (r < 0) {
                    if (Iovecs.interrupted(r)) {
                        continue;
                    }
                    return ioError(write ? "pwritev" : "preadv", sector, len);
                }
                if (r == 0) {
                    if (write) {
                        return ioError("pwritev (no progress)", sector, len);
                    }
                    // the image shrank under us: what is past its end reads as zeroes
                    zeroRest(len - done);
                    break;
                }
                done += r;
                iov.advance(r);
            }
            return VIRTIO_BLK_S_OK;
        }

        private void zeroRest(long n) {
            for (int i = 0; i < iov.count() && n > 0; i++) {
                long l = Math.min(iov.length(i), n);
                Native.fill(iov.base(i), l, (byte) 0);
                n -= l;
            }
        }

        /** O_DIRECT with misaligned guest buffers: go through an aligned bounce buffer, 1 MiB at a time. */
        private int bounceTransfer(boolean write, long offset, long len) {
            headerScratch();
            long b = bounce.address();
            long done = 0;
            while (done < len) {
                long chunk = Math.min(BOUNCE_SIZE, len - done);
                if (write) {
                    iov.copyOut(done, b, chunk);
                }
                long got = 0;
                while (got < chunk) {
                    long r = write ? Native.LIBC.pwrite(backend.fd(), b + got, chunk - got, offset + done + got)
                            : Native.LIBC.pread(backend.fd(), b + got, chunk - got, offset + done + got);
                    if (r < 0 && Iovecs.interrupted(r)) {
                        continue;
                    }
                    if (r <= 0) {
                        if (r == 0 && !write) {
                            Native.fill(b + got, chunk - got, (byte) 0);
                            break;
                        }
                        return ioError(write ? "pwrite (bounced)" : "pread (bounced)", offset / SECTOR, len);
                    }
                    got += r;
                }
                if (!write) {
                    long skip = done;
                    // copy the chunk into the guest's buffers at byte position 'done'
                    copyIntoIov(skip, b, chunk);
                }
                done += chunk;
            }
            return VIRTIO_BLK_S_OK;
        }

        private void copyIntoIov(long skip, long src, long len) {
            long done = 0;
            for (int i = 0; i < iov.count() && done < len; i++) {
                long l = iov.length(i);
                if (skip >= l) {
                    skip -= l;
                    continue;
                }
                long n = Math.min(l - skip, len - done);
                Native.copy(src + done, iov.base(i) + skip, n);
                skip = 0;
                done += n;
            }
        }

        private int ioError(String op, long sector, long len) {
            long e = ioErrors.incrementAndGet();
            if (e <= 10 || Long.bitCount(e) == 1) {
                log.warn("{}: {} at sector {} len {} failed: errno {} ({} I/O errors so far)", name(), op, sector, len,
                        Native.errno(), e);
            }
            return VIRTIO_BLK_S_IOERR;
        }

        @Override
        public void close() {
            thread.close();
            iov.close();
            if (bounce != null) {
                bounce.close();
            }
        }
    }
}

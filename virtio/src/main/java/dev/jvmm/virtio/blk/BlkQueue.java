package dev.jvmm.virtio.blk;

import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.virtio.DescriptorChain;
import dev.jvmm.virtio.DeviceWorker;
import dev.jvmm.virtio.GuestProtocolException;
import dev.jvmm.virtio.Iovecs;
import dev.jvmm.virtio.VirtQueue;
import dev.jvmm.virtio.VirtioInterrupts;
import dev.jvmm.virtio.blk.VirtioBlkLayout.DiscardWriteZeroes;
import dev.jvmm.virtio.blk.qcow2.DiskImage;
import dev.jvmm.virtio.blk.qcow2.Mapping;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One virtio-blk queue at depth: its thread ({@code virtio-blk-0}, {@code virtio-blk-0-q1}, …) pops every chain the
 * driver made available, parses it into a free request slot and hands reads, writes and flushes to the disk's
 * {@link BlkEngine}; completions come back in any order on the engine's eventfd, and the same thread writes each
 * one's status byte and used element (out of order, as virtio allows) and raises the queue's interrupt once per
 * batch. GET_ID, DISCARD, WRITE_ZEROES, errors found while parsing and O_DIRECT reads/writes of misaligned guest
 * buffers (bounced) are served on the spot. Only this thread touches the {@link VirtQueue}.
 *
 * <p>Slots: one per ring entry, made when the queue starts (each with its iovec array), so nothing is allocated per
 * request. A driver that makes more chains available than there are free slots (only a broken one can) waits until
 * completions free them.
 *
 * <p>Flush: a FLUSH is issued (fdatasync) once every write submitted before it has completed; until then it waits
 * while the requests after it go on. So it covers every write completed before it, as virtio 1.2 §5.2.6.1 asks, and
 * also the writes that were in flight when it came. cache=unsafe answers it at once.
 *
 * <p>Stopping ({@link #stop}): the thread is joined, then what is in flight is waited for on the caller's thread: on
 * a quiesce each request is completed into the used ring (a saved state has nothing in flight); on a reset they are
 * dropped (the driver forgot them, and its rings may be gone), but still waited for, since the kernel writes guest
 * RAM until they end.
 *
 * <p>Migration: the device's writes to guest RAM are marked dirty after they happened: read data as each transfer
 * completes, the status byte and the used ring when the request completes.
 */
final class BlkQueue implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BlkQueue.class);
    private static final long KICK = 0, DONE = 1;
    private static final int SECTOR = 512;
    private static final long BOUNCE_SIZE = 1 << 20;

    private final VirtioBlk dev;
    private final BlockBackend backend;
    private final String name;
    private final VirtQueue queue;
    private final EventFd kick;
    private final VirtioInterrupts irq;
    private final GuestMemory mem;
    private final BlkRequest[] slots;
    private final int[] free;
    private int freeCount;
    private final BlkEngine.Queue io;
    private final AioMode aio;
    final DeviceWorker thread;
    private final BlkEngine.Done onDone = this::completed;
    private final BlkEngine.Done onDrop = this::dropped;
    private Mmap bounce;
    /** Requests with the engine. */
    private int inFlight;
    /** Writes with the engine. */
    private int inFlightWrites;
    /** Writes submitted so far (numbers them). */
    private long writeSeq;
    /** Flushes waiting for earlier writes, oldest first (their writeSeq never decreases along the list). */
    private BlkRequest flushHead, flushTail;
    /** Chains were left available for want of a free slot: serve again when one frees. */
    private boolean starved;
    /** Used elements added since the last interrupt decision. */
    private boolean added;

    /**
     * Makes the queue's slots, opens its channel of {@code engine} and its thread (not started).
     *
     * @param engine   the disk's engine
     * @param fallback the engine a queue takes when {@code engine} is io_uring and the kernel refuses it a ring
     */
    BlkQueue(VirtioBlk dev, String name, VirtQueue queue, EventFd kick, VirtioInterrupts irq, GuestMemory mem,
            BlkEngine engine, java.util.function.Supplier<BlkEngine> fallback) {
        this.dev = dev;
        this.backend = dev.backend();
        this.name = name;
        this.queue = queue;
        this.kick = kick;
        this.irq = irq;
        this.mem = mem;
        int n = queue.size();
        this.slots = new BlkRequest[n];
        this.free = new int[n];
        for (int i = 0; i < n; i++) {
            slots[i] = new BlkRequest(i, VirtioBlk.SEG_MAX + 2, backend.image() != null);
            free[i] = n - 1 - i;
        }
        freeCount = n;
        BlkEngine.Queue q = null;
        DeviceWorker t = null;
        AioMode mode = engine.mode();
        try {
            try {
                q = engine.open(name, slots);
            } catch (RuntimeException e) {
                if (engine.mode() != AioMode.IO_URING) {
                    throw e;
                }
                BlkEngine other = fallback.get();
                log.warn("{}: aio={} refused ({}); this queue uses aio={}", name, engine.mode(), e.getMessage(),
                        other.mode());
                q = other.open(name, slots);
                mode = other.mode();
            }
            t = new DeviceWorker(name, this::ready, irq);
            t.watch(kick, KICK);
            t.watch(q.completionFd(), DONE);
        } catch (RuntimeException | Error e) {
            if (t != null) {
                t.close();
            }
            if (q != null) {
                q.close();
            }
            closeSlots();
            throw e;
        }
        this.io = q;
        this.aio = mode;
        this.thread = t;
    }

    /** The engine this queue ended up with. */
    AioMode aio() {
        return aio;
    }

    void start() {
        thread.start();
    }

    private void ready(long token, int events) {
        try {
            if (token == DONE) {
                io.reap(onDone);
                if (starved) {
                    serve();
                }
            } else {
                // drain the kick eventfd first so that a kick arriving while we work is not lost
                kick.drain();
                serve();
            }
            io.commit();
            // what completed while it was submitted (page cache hits on io_uring) is taken now, not after a trip
            // through epoll; a completion may free a slot for a chain left waiting, or resubmit a short transfer
            while (io.ready()) {
                io.reap(onDone);
                if (starved) {
                    serve();
                }
                io.commit();
            }
        } catch (RuntimeException e) {
            // a malformed chain stopped the batch: what was handed over before it is still sent, and answered
            io.commit();
            throw e;
        } finally {
            interrupt();
        }
    }

    private void interrupt() {
        if (added) {
            added = false;
            if (queue.needsInterrupt()) {
                irq.signalQueue(queue.index());
            }
        }
    }

    /** Pops and starts every available chain while there are free slots. */
    private void serve() {
        starved = false;
        int batch = queue.pending();
        dev.sawBatch(batch);
        while (freeCount > 0) {
            DescriptorChain c = queue.pop();
            if (c == null) {
                return;
            }
            BlkRequest r = slots[free[--freeCount]];
            r.state = BlkRequest.INLINE;
            try {
                start(r, c);
            } catch (RuntimeException e) {
                if (r.state == BlkRequest.INLINE) {
                    release(r);
                }
                throw e;
            }
        }
        starved = queue.hasAvailable();
    }

    /** Parses one request into {@code r}: submits it, or answers it at once. */
    private void start(BlkRequest r, DescriptorChain c) {
        dev.requests.incrementAndGet();
        int n = c.count();
        if (c.readableBytes() < DiscardWriteZeroes.SIZEOF || c.writableCount() == 0) {
            throw new GuestProtocolException(GuestProtocolException.Reason.MALFORMED_REQUEST, dev.name()
                    + ": request needs a 16-byte header and a writable status byte (readable "
                    + c.readableBytes() + ", writable " + c.writableBytes() + " bytes)");
        }
        r.head = c.head();
        r.statusAddr = c.address(n - 1) + c.length(n - 1) - 1;
        Iovecs iov = r.iov;
        int type;
        long sector;
        if (c.length(0) >= VirtioBlkLayout.OutHdr.SIZEOF) {
            type = Native.getInt(c.address(0) + VirtioBlkLayout.OutHdr.TYPE);
            sector = Native.getLong(c.address(0) + VirtioBlkLayout.OutHdr.SECTOR);
        } else {
            iov.fill(c, 0, c.readableCount(), 0, 0);
            long tmp = scratch();
            iov.copyOut(0, tmp, 16);
            type = Native.getInt(tmp);
            sector = Native.getLong(tmp + 8);
        }
        int rd = c.readableCount();
        long readData = c.readableBytes() - VirtioBlkLayout.OutHdr.SIZEOF;
        long writeData = c.writableBytes() - 1;
        switch (type) {
            case VIRTIO_BLK_T_IN -> {
                if (readData != 0) {
                    answer(r, c, VIRTIO_BLK_S_IOERR, 1);
                    return;
                }
                iov.fill(c, rd, n, 0, 1);
                transfer(r, c, false, sector, writeData);
            }
            case VIRTIO_BLK_T_OUT -> {
                if (writeData != 0 || backend.readOnly()) {
                    answer(r, c, VIRTIO_BLK_S_IOERR, 1);
                    return;
                }
                dev.writes.incrementAndGet();
                iov.fill(c, 0, rd, VirtioBlkLayout.OutHdr.SIZEOF, 0);
                transfer(r, c, true, sector, readData);
            }
            case VIRTIO_BLK_T_FLUSH -> {
                dev.flushes.incrementAndGet();
                if (backend.cache() == CacheMode.UNSAFE) {
                    answer(r, c, VIRTIO_BLK_S_OK, 1);
                    return;
                }
                r.writeSeq = writeSeq;
                if (flushHead == null && inFlightWrites == 0) {
                    submitFlush(r);
                } else {
                    r.state = BlkRequest.WAITING;
                    r.next = null;
                    if (flushTail == null) {
                        flushHead = flushTail = r;
                    } else {
                        flushTail.next = r;
                        flushTail = r;
                    }
                }
            }
            case VIRTIO_BLK_T_GET_ID -> {
                iov.fill(c, rd, n, 0, 1);
                long len = Math.min(writeData, VIRTIO_BLK_ID_BYTES);
                long tmp = scratch();
                Native.fill(tmp, VIRTIO_BLK_ID_BYTES, (byte) 0);
                byte[] id = dev.id();
                Native.put(tmp, id, 0, id.length);
                iov.copyIn(tmp, len);
                answer(r, c, VIRTIO_BLK_S_OK, 1 + len);
            }
            case VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES -> answer(r, c, discardOrZero(r, c, type, readData), 1);
            default -> answer(r, c, VIRTIO_BLK_S_UNSUPP, 1);
        }
    }

    /** A read or write of the iovecs at {@code sector}: checked, then bounced on the spot or submitted. */
    private void transfer(BlkRequest r, DescriptorChain c, boolean write, long sector, long len) {
        if (len % SECTOR != 0 || !inRange(sector, len)) {
            answer(r, c, ioError(write ? "write" : "read", sector, len, 0), 1);
            return;
        }
        if (len == 0) {
            answer(r, c, VIRTIO_BLK_S_OK, 1);
            return;
        }
        if (backend.direct() && !r.iov.aligned(SECTOR)) {
            dev.bounced.incrementAndGet();
            int status = bounceTransfer(r.iov, write, sector * SECTOR, len);
            answer(r, c, status, !write && status == VIRTIO_BLK_S_OK ? 1 + len : 1);
            return;
        }
        if (write) {
            r.writeSeq = ++writeSeq;
            inFlightWrites++;
        }
        if (backend.image() != null) {
            r.op = write ? BlkRequest.WRITE : BlkRequest.READ;
            r.mapped = true;
            r.vOffset = sector * SECTOR;
            r.vRemaining = len;
            r.length = len;
            r.split = false;
            continueMapped(r);
            return;
        }
        submit(r, write ? BlkRequest.WRITE : BlkRequest.READ, sector * SECTOR, len);
    }

    /**
     * Serves a request on a formatted disk (qcow2) from {@code r.vOffset} on: the image says where each next piece
     * lives; zeroes, compressed clusters and writes that allocate over data (a backing file's, a compressed
     * cluster's) are served here, through the bounce buffer; the
     * first piece that is one contiguous range of a host file goes to the engine straight from or into guest RAM,
     * and its completion brings the request back here ({@link #mappedDone}).
     */
    private void continueMapped(BlkRequest r) {
        DiskImage img = backend.image();
        boolean write = r.op == BlkRequest.WRITE;
        while (r.vRemaining > 0) {
            Mapping m = r.map;
            img.map(r.vOffset, r.vRemaining, write, m);
            long n = Math.min(m.length, r.vRemaining);
            switch (m.kind) {
                case Mapping.HOST -> {
                    if (r.split || n < r.vRemaining) {
                        split(r);
                        r.iov.slice(r.whole, 0, n);
                    } // else the rest of the request is one host range, and r.iov holds just that already
                    r.chunk = n;
                    r.fd = m.fd;
                    r.offset = m.hostOffset;
                    r.remaining = n;
                    r.state = BlkRequest.SUBMITTED;
                    inFlight++;
                    dev.sawInFlight(inFlight);
                    io.submit(r);
                    return;
                }
                case Mapping.ZERO -> {
                    split(r);
                    zeroRest(r.whole, n);
                    markDirty(r.whole, n);
                }
                case Mapping.INLINE -> {
                    split(r);
                    n = Math.min(n, BOUNCE_SIZE);
                    scratch();
                    long b = bounce.address();
                    int rc;
                    if (write) {
                        r.whole.copyOut(0, b, n);
                        rc = m.image.write(r.vOffset, n, b);
                    } else {
                        rc = m.image.read(r.vOffset, n, b);
                        if (rc == 0) {
                            copyIntoIov(r.whole, 0, b, n);
                            markDirty(r.whole, n);
                        }
                    }
                    if (rc < 0) {
                        failMapped(r, -rc);
                        return;
                    }
                }
                default -> {
                    failMapped(r, m.errno);
                    return;
                }
            }
            r.whole.advance(n); // split: only pieces served here (ZERO, INLINE) get this far
            r.vOffset += n;
            r.vRemaining -= n;
        }
        endMapped(r, VIRTIO_BLK_S_OK);
    }

    /**
     * A mapped request that goes in more than one piece: {@code r.whole} takes its segments from {@code r.iov}, which
     * holds the rest of the request until the first piece is cut from it. A request whose every byte lies in one host
     * range (most, on an allocated image or on new clusters) never copies its segments.
     */
    private static void split(BlkRequest r) {
        if (!r.split) {
            r.whole.slice(r.iov, 0, r.vRemaining);
            r.split = true;
        }
    }

    /** The engine finished a piece of a mapped request: a short transfer goes round again, a whole one moves on. */
    private void mappedDone(BlkRequest r, long res) {
        boolean write = r.op == BlkRequest.WRITE;
        if (res < 0) {
            if (res == -Errno.EINTR || res == -Errno.EAGAIN) {
                resubmit(r);
            } else {
                failMapped(r, (int) -res);
            }
            return;
        }
        if (res == 0) {
            if (write) {
                failMapped(r, Errno.EIO);
                return;
            }
            // past the end of the host file (the last cluster of an image may be short): zeroes
            zeroRest(r.iov, r.remaining);
            res = r.remaining;
        }
        if (!write) {
            markDirty(r.iov, res);
        }
        if (res < r.remaining) {
            r.iov.advance(res);
            r.offset += res;
            r.remaining -= res;
            resubmit(r);
            return;
        }
        if (r.split) {
            r.whole.advance(r.chunk);
        }
        r.vOffset += r.chunk;
        r.vRemaining -= r.chunk;
        continueMapped(r);
    }

    private void failMapped(BlkRequest r, int errno) {
        boolean write = r.op == BlkRequest.WRITE;
        endMapped(r, ioError(write ? "write" : "read", r.vOffset / SECTOR, r.vRemaining, errno));
    }

    private void endMapped(BlkRequest r, int status) {
        boolean write = r.op == BlkRequest.WRITE;
        r.mapped = false;
        finish(r, status, !write && status == VIRTIO_BLK_S_OK ? 1 + r.length : 1);
        if (write) {
            inFlightWrites--;
            issueFlushes();
        }
    }

    /** A FLUSH whose earlier writes have all completed: a qcow2 image first writes the metadata it put off. */
    private void submitFlush(BlkRequest r) {
        DiskImage img = backend.image();
        if (img != null) {
            int rc = img.writeBack();
            if (rc < 0) {
                finish(r, ioError("flush (image metadata)", 0, 0, -rc), 1);
                return;
            }
        }
        submit(r, BlkRequest.FLUSH, 0, 0);
    }

    private void submit(BlkRequest r, int op, long offset, long len) {
        r.op = op;
        r.fd = backend.fd();
        r.offset = offset;
        r.remaining = len;
        r.length = len;
        r.state = BlkRequest.SUBMITTED;
        inFlight++;
        dev.sawInFlight(inFlight);
        io.submit(r);
    }

    /** Answers a request served on the spot, while its chain is the one just popped. */
    private void answer(BlkRequest r, DescriptorChain c, int status, long written) {
        Native.putByte(r.statusAddr, (byte) status);
        // marks every device-writable segment (data, id string, status byte) and the used ring for migration
        queue.addUsed(c, written);
        added = true;
        release(r);
    }

    /** A request the engine is done with (the queue thread, from {@link BlkEngine.Queue#reap}). */
    private void completed(BlkRequest r, long res) {
        inFlight--;
        if (r.op == BlkRequest.FLUSH) {
            finish(r, res == 0 ? VIRTIO_BLK_S_OK : ioError("flush", 0, 0, (int) -res), 1);
            return;
        }
        if (r.mapped) {
            mappedDone(r, res);
            return;
        }
        boolean write = r.op == BlkRequest.WRITE;
        int status;
        if (res < 0) {
            if (res == -Errno.EINTR || res == -Errno.EAGAIN) {
                resubmit(r);
                return;
            }
            status = ioError(write ? "pwritev" : "preadv", r.offset / SECTOR, r.remaining, (int) -res);
        } else if (res == 0) {
            if (write) {
                status = ioError("pwritev (no progress)", r.offset / SECTOR, r.remaining, Errno.EIO);
            } else {
                // the image shrank under us: what is past its end reads as zeroes
                zeroRest(r.iov, r.remaining);
                status = VIRTIO_BLK_S_OK;
            }
        } else if (res < r.remaining) {
            if (!write) {
                markDirty(r.iov, res);
            }
            r.iov.advance(res);
            r.offset += res;
            r.remaining -= res;
            resubmit(r);
            return;
        } else {
            status = VIRTIO_BLK_S_OK;
        }
        finish(r, status, !write && status == VIRTIO_BLK_S_OK ? 1 + r.length : 1);
        if (write) {
            inFlightWrites--;
            issueFlushes();
        }
    }

    private void resubmit(BlkRequest r) {
        inFlight++;
        io.submit(r);
    }

    /** Writes the status and the used element of a request the engine finished. */
    private void finish(BlkRequest r, int status, long written) {
        Native.putByte(r.statusAddr, (byte) status);
        if (r.op == BlkRequest.READ) {
            markDirty(r.iov, Long.MAX_VALUE); // what this last transfer wrote (a failed one may have written some)
        }
        mem.markDirtyHost(r.statusAddr, 1);
        queue.addUsed(r.head, written); // marks the used ring
        added = true;
        release(r);
    }

    /** Issues the flushes whose earlier writes have all completed. */
    private void issueFlushes() {
        if (flushHead == null) {
            return;
        }
        long oldest = Long.MAX_VALUE;
        if (inFlightWrites > 0) {
            for (BlkRequest s : slots) {
                if (s.state == BlkRequest.SUBMITTED && s.op == BlkRequest.WRITE && s.writeSeq < oldest) {
                    oldest = s.writeSeq;
                }
            }
        }
        while (flushHead != null && flushHead.writeSeq < oldest) {
            BlkRequest f = flushHead;
            flushHead = f.next;
            if (flushHead == null) {
                flushTail = null;
            }
            f.next = null;
            submitFlush(f);
        }
    }

    private void release(BlkRequest r) {
        r.state = BlkRequest.FREE;
        r.owner = null;
        free[freeCount++] = r.index;
    }

    /** Marks up to {@code bytes} of the iovecs' data, from their current start, dirty for migration. */
    private void markDirty(Iovecs iov, long bytes) {
        if (!mem.dirtyLogging()) {
            return;
        }
        for (int i = 0; i < iov.count() && bytes > 0; i++) {
            long l = Math.min(iov.length(i), bytes);
            mem.markDirtyHost(iov.base(i), l);
            bytes -= l;
        }
    }

    private static void zeroRest(Iovecs iov, long n) {
        for (int i = 0; i < iov.count() && n > 0; i++) {
            long l = Math.min(iov.length(i), n);
            Native.fill(iov.base(i), l, (byte) 0);
            n -= l;
        }
    }

    private long scratch() {
        if (bounce == null) {
            bounce = Mmap.anonymous(BOUNCE_SIZE + 4096, name + " bounce");
        }
        return bounce.address() + BOUNCE_SIZE;
    }

    private int discardOrZero(BlkRequest r, DescriptorChain c, int type, long readData) {
        if (backend.readOnly()) {
            return VIRTIO_BLK_S_IOERR;
        }
        if (readData != DiscardWriteZeroes.SIZEOF) {
            // one segment per request (max_*_seg = 1)
            return readData > 0 && readData % DiscardWriteZeroes.SIZEOF == 0 ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
        }
        r.iov.fill(c, 0, c.readableCount(), VirtioBlkLayout.OutHdr.SIZEOF, 0);
        long tmp = scratch();
        r.iov.copyOut(0, tmp, DiscardWriteZeroes.SIZEOF);
        long sector = Native.getLong(tmp + DiscardWriteZeroes.SECTOR);
        long count = Native.getInt(tmp + DiscardWriteZeroes.NUM_SECTORS) & 0xffffffffL;
        int flags = Native.getInt(tmp + DiscardWriteZeroes.FLAGS);
        String what = type == VIRTIO_BLK_T_DISCARD ? "discard" : "write-zeroes";
        if (!inRange(sector, count * SECTOR)) {
            return ioError(what, sector, count * SECTOR, 0);
        }
        int rc;
        if (type == VIRTIO_BLK_T_DISCARD) {
            if (flags != 0) {
                return VIRTIO_BLK_S_UNSUPP;
            }
            rc = count == 0 ? 0 : backend.discard(sector * SECTOR, count * SECTOR);
        } else {
            if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0) {
                return VIRTIO_BLK_S_UNSUPP;
            }
            rc = count == 0 ? 0
                    : backend.writeZeroes(sector * SECTOR, count * SECTOR, (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0);
        }
        return rc == 0 ? VIRTIO_BLK_S_OK : ioError(what, sector, count * SECTOR, -rc);
    }

    private boolean inRange(long sector, long len) {
        long cap = backend.size() / SECTOR;
        return sector >= 0 && sector <= cap && len >= 0 && len <= (cap - sector) * SECTOR;
    }

    /** O_DIRECT with misaligned guest buffers: through an aligned bounce buffer, 1 MiB at a time, on this thread. */
    private int bounceTransfer(Iovecs iov, boolean write, long offset, long len) {
        scratch();
        long b = bounce.address();
        int fd = backend.fd();
        long done = 0;
        DiskImage img = backend.image();
        while (done < len) {
            long chunk = Math.min(BOUNCE_SIZE, len - done);
            if (write) {
                iov.copyOut(done, b, chunk);
            }
            if (img != null) {
                int rc = write ? img.write(offset + done, chunk, b) : img.read(offset + done, chunk, b);
                if (rc < 0) {
                    return ioError(write ? "write (bounced)" : "read (bounced)", offset / SECTOR, len, -rc);
                }
                if (!write) {
                    copyIntoIov(iov, done, b, chunk);
                }
                done += chunk;
                continue;
            }
            long got = 0;
            while (got < chunk) {
                long r = write ? Native.LIBC.pwrite(fd, b + got, chunk - got, offset + done + got)
                        : Native.LIBC.pread(fd, b + got, chunk - got, offset + done + got);
                if (r < 0 && Iovecs.interrupted(r)) {
                    continue;
                }
                if (r <= 0) {
                    if (r == 0 && !write) {
                        Native.fill(b + got, chunk - got, (byte) 0);
                        break;
                    }
                    return ioError(write ? "pwrite (bounced)" : "pread (bounced)", offset / SECTOR, len,
                            r < 0 ? Native.errno() : Errno.EIO);
                }
                got += r;
            }
            if (!write) {
                copyIntoIov(iov, done, b, chunk);
            }
            done += chunk;
        }
        return VIRTIO_BLK_S_OK;
    }

    private static void copyIntoIov(Iovecs iov, long skip, long src, long len) {
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

    private int ioError(String op, long sector, long len, int errno) {
        long e = dev.ioErrors.incrementAndGet();
        if (e <= 10 || Long.bitCount(e) == 1) {
            String why = errno == 0 ? "out of range" : ErrnoException.name(errno);
            if (len == 0 && sector == 0 && op.equals("flush")) {
                log.warn("{}: flush failed: {} ({} I/O errors so far)", dev.name(), why, e);
            } else {
                log.warn("{}: {} at sector {} len {} failed: {} ({} I/O errors so far)", dev.name(), op, sector, len, why,
                        e);
            }
        }
        return VIRTIO_BLK_S_IOERR;
    }

    // ---- stopping ----

    /** A request that completes while a reset drains the queue: forgotten (the driver reset the device). */
    private void dropped(BlkRequest r, long res) {
        inFlight--;
        if (r.op == BlkRequest.WRITE) {
            inFlightWrites--;
        }
        r.mapped = false;
        release(r);
    }

    /**
     * Joins the thread, then waits on this thread for every request in flight: completes them into the used ring
     * ({@code complete}: a quiesce; not for a queue that broke on a malformed chain) or drops them (a reset).
     * Flushes that waited are issued and completed, or dropped. When it returns nothing of this queue is in the
     * kernel or touches guest RAM.
     */
    void stop(boolean complete) {
        thread.close();
        complete &= !thread.broken();
        io.commit();
        long t0 = System.nanoTime();
        long nextLog = t0 + 1_000_000_000L;
        while (inFlight > 0 || flushHead != null) {
            if (inFlight == 0) {
                // only flushes that waited for writes are left
                if (!complete) {
                    while (flushHead != null) {
                        BlkRequest f = flushHead;
                        flushHead = f.next;
                        f.next = null;
                        release(f);
                    }
                    flushTail = null;
                    break;
                }
                issueFlushes();
                io.commit();
                continue;
            }
            io.await();
            io.reap(complete ? onDone : onDrop);
            io.commit();
            long now = System.nanoTime();
            if (now > nextLog) {
                log.warn("{}: waiting {} ms for {} request(s) in flight to end", name, (now - t0) / 1_000_000, inFlight);
                nextLog = now + 5_000_000_000L;
            }
        }
        if (complete) {
            interrupt();
        }
    }

    /** Requests with the engine now (for tests). */
    int inFlight() {
        return inFlight;
    }

    /** Stops without waiting (a queue that never started) and frees everything. Idempotent. */
    @Override
    public void close() {
        thread.close();
        io.close();
        closeSlots();
        if (bounce != null) {
            bounce.close();
            bounce = null;
        }
    }

    private void closeSlots() {
        for (BlkRequest s : slots) {
            if (s != null) {
                s.close();
            }
        }
    }
}

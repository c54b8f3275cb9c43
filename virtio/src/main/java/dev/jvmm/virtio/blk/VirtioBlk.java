package dev.jvmm.virtio.blk;

import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;

import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.uring.IoUring;
import dev.jvmm.virtio.VirtioDevice;
import dev.jvmm.virtio.blk.VirtioBlkLayout.Config;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * virtio-blk (virtio 1.2 §5.2) over a {@link BlockBackend}: read, write, flush, get-id, discard and
 * write-zeroes; read-only disks; SEG_MAX/SIZE_MAX; multiqueue with one thread per queue ({@code virtio-blk-0},
 * {@code virtio-blk-0-q1}, …). Each queue keeps many requests in flight ({@link BlkQueue}): reads, writes and flushes
 * go to an engine ({@link AioMode}: an io_uring per queue, or a pool of I/O threads per disk) with iovecs pointing into
 * guest RAM, and complete in any order. With O_DIRECT (cache=none) a request whose guest buffers are not 512-byte
 * aligned goes through a bounce buffer (counted in {@link #bounced()}).
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

    private final BlockBackend backend;
    private final int queues;
    private final byte[] id;
    private final List<BlkQueue> workers = new ArrayList<>();
    /** The disk's engine, made with the first queue (io_uring's is a factory of per-queue rings). */
    private BlkEngine engine;
    /** The thread pool a queue falls back to when the kernel refuses it an io_uring. */
    private ThreadPoolEngine fallback;
    private final java.util.function.Supplier<BlkEngine> engineMaker;
    private final AioMode aio;
    private final String aioReason;
    final AtomicLong bounced = new AtomicLong();
    final AtomicLong ioErrors = new AtomicLong();
    final AtomicLong requests = new AtomicLong();
    final AtomicLong writes = new AtomicLong();
    final AtomicLong flushes = new AtomicLong();
    /** Most chains found available at once by one worker (how many requests the guest keeps in flight). */
    private volatile int maxBatch;
    /** Most requests one queue had with the engine at once. */
    private volatile int maxInFlight;

    /** A disk with the default engine ({@link AioMode#AUTO}). */
    public VirtioBlk(String name, BlockBackend backend, int queues, String serial) {
        this(name, backend, queues, serial, AioMode.AUTO);
    }

    /**
     * A disk whose queues use {@code aio}: {@link AioMode#IO_URING} (or {@link AioMode#AUTO}) takes io_uring when
     * this process can set one up, threads otherwise, saying why in the log ({@link #aioReason()}).
     */
    public VirtioBlk(String name, BlockBackend backend, int queues, String serial, AioMode aio) {
        this(name, backend, queues, serial, choose(name, aio), null);
    }

    /** For tests: a disk whose queues use {@code engine} (closed with the disk). */
    VirtioBlk(String name, BlockBackend backend, int queues, String serial, BlkEngine engine) {
        this(name, backend, queues, serial, new Choice(engine.mode(), null), () -> engine);
    }

    /** The engine chosen for {@code aio=}, and why io_uring was not (null when it was, or was not asked for). */
    private record Choice(AioMode mode, String reason) {
    }

    private VirtioBlk(String name, BlockBackend backend, int queues, String serial, Choice chosen,
            java.util.function.Supplier<BlkEngine> maker) {
        super(name, Config.SIZE);
        if (queues < 1 || queues > 64) {
            throw new IllegalArgumentException(name + ": " + queues + " queues (1..64)");
        }
        this.aio = chosen.mode();
        this.aioReason = chosen.reason();
        this.engineMaker = maker != null ? maker
                : aio == AioMode.IO_URING ? UringEngine::new : () -> new ThreadPoolEngine(name, ThreadPoolEngine.DEFAULT_THREADS);
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

    private static Choice choose(String name, AioMode wanted) {
        if (wanted == AioMode.THREADS) {
            return new Choice(AioMode.THREADS, null);
        }
        String why = IoUring.unavailableReason();
        if (why == null) {
            return new Choice(AioMode.IO_URING, null);
        }
        if (wanted == AioMode.IO_URING) {
            log.warn("{}: aio=io_uring is not available, using aio=threads: {}", name, why);
        } else {
            log.info("{}: using aio=threads: {}", name, why);
        }
        return new Choice(AioMode.THREADS, why);
    }

    public BlockBackend backend() {
        return backend;
    }

    /**
     * The saved configuration space, then the disk's qcow2 metadata read again: on a migration's destination the file
     * was opened while the source still wrote it (the source flushed it before it sent this state).
     */
    @Override
    public void restoreState(StateCodec.Reader in) throws java.io.IOException {
        super.restoreState(in);
        backend.reload();
    }

    /** The engine the disk's queues use ({@link AioMode#THREADS} or {@link AioMode#IO_URING}, never AUTO). */
    public AioMode aio() {
        return aio;
    }

    /** Why io_uring was asked for (or left to AUTO) and not taken, or null. */
    public String aioReason() {
        return aioReason;
    }

    /** The serial GET_ID answers. */
    byte[] id() {
        return id;
    }

    void sawBatch(int batch) {
        if (batch > maxBatch) {
            maxBatch = batch;
        }
    }

    void sawInFlight(int n) {
        if (n > maxInFlight) {
            maxInFlight = n;
        }
    }

    /** Most requests one queue had in flight at once (reads, writes and flushes with the engine). */
    public int maxInFlight() {
        return maxInFlight;
    }

    public long writes() {
        return writes.get();
    }

    public long flushes() {
        return flushes.get();
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

    /** Requests with the engine on each running queue (for tests: read while the queue threads may run). */
    synchronized int[] inFlight() {
        return workers.stream().mapToInt(BlkQueue::inFlight).toArray();
    }

    @Override
    protected void startWorkers(Activation a) {
        int n = queues;
        if (!a.has(VIRTIO_BLK_F_MQ)) {
            n = 1;
        }
        if (engine == null) {
            engine = engineMaker.get();
        }
        try {
            for (int q = 0; q < n; q++) {
                if (!a.queues()[q].isReady()) {
                    continue;
                }
                workers.add(new BlkQueue(this, q == 0 ? name() : name() + "-q" + q, a.queues()[q], a.kicks()[q],
                        a.interrupts(), a.memory(), engine, this::fallback));
            }
        } catch (RuntimeException e) {
            stop(false);
            throw e;
        }
        for (BlkQueue w : workers) {
            w.start();
        }
    }

    private synchronized BlkEngine fallback() {
        if (fallback == null) {
            fallback = new ThreadPoolEngine(name(), ThreadPoolEngine.DEFAULT_THREADS);
        }
        return fallback;
    }

    /**
     * Stops the queue threads and waits for what they have in flight; see {@link BlkQueue#stop}. A quiesce completes
     * those requests into the used rings, a reset drops them.
     */
    @Override
    protected void stopWorkers() {
        stop(true);
    }

    private void stop(boolean complete) {
        RuntimeException first = null;
        for (BlkQueue w : workers) {
            try {
                w.stop(complete);
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            } finally {
                w.close();
            }
        }
        workers.clear();
        if (first != null) {
            throw first;
        }
    }

    @Override
    protected boolean workersRunning() {
        return !workers.isEmpty();
    }

    @Override
    public synchronized void reset() {
        stop(false);
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
            log.debug("{}: {} requests ({} writes, {} flushes), {} bounced, {} I/O errors, at most {} pending and {} in "
                    + "flight at once (aio={})", name(), requests.get(), writes.get(), flushes.get(), bounced.get(),
                    ioErrors.get(), maxBatch, maxInFlight, aio);
        }
        synchronized (this) {
            // after the queues: no request is in flight any more
            if (engine != null) {
                engine.close();
            }
            if (fallback != null) {
                fallback.close();
            }
        }
        backend.close();
    }
}

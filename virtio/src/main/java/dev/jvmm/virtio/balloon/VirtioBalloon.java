package dev.jvmm.virtio.balloon;

import static dev.jvmm.virtio.balloon.VirtioBalloonLayout.Constants.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.VmCoreException;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.virtio.DescriptorChain;
import dev.jvmm.virtio.DeviceWorker;
import dev.jvmm.virtio.GuestProtocolException;
import dev.jvmm.virtio.VirtQueue;
import dev.jvmm.virtio.VirtioDevice;
import dev.jvmm.virtio.VirtioInterrupts;
import dev.jvmm.virtio.balloon.VirtioBalloonLayout.Config;
import java.io.DataOutput;
import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * virtio-balloon (virtio 1.2 §5.5, device type 5): the host sets a target ({@code num_pages}, 4 KiB pages) and the
 * driver inflates towards it, giving pages whose frame numbers arrive on the inflateq; the device releases them to the
 * host with madvise(MADV_DONTNEED) ({@link GuestMemory#discard}), so the VMM's RSS drops. Pages on the deflateq go
 * back to the guest: nothing to do on the host (they fault back in, zeroed), only counted. The driver reports how
 * many pages the balloon holds in {@code actual}.
 *
 * <p>Optional, as configured: the stats queue (VIRTIO_BALLOON_F_STATS_VQ: the driver keeps one buffer with the device,
 * which returns it every {@code statsSeconds} to ask for fresh figures, §5.5.6.3), free page reporting
 * (VIRTIO_BALLOON_F_REPORTING: the driver lends ranges of free memory, which are discarded the same way) and
 * VIRTIO_BALLOON_F_DEFLATE_ON_OOM (the guest may deflate on its own when it runs out of memory; nothing for the device
 * to do). FREE_PAGE_HINT and PAGE_POISON are not offered.
 *
 * <p>Queue indexes (§5.5.2, and Linux's virtio-pci which numbers only the queues it sets up): 0 inflateq, 1 deflateq,
 * then statsq if STATS_VQ was negotiated, then the reporting queue if REPORTING was: the reporting queue is 2 when the
 * driver did not take STATS_VQ. The device finds them from the negotiated features at activation.
 *
 * <p>Guest errors: a frame number outside guest RAM is refused (not released, counted in {@link Status#refusedPages},
 * logged rate-limited) and the rest of the buffer still served; a PFN buffer whose length is not a multiple of 4, or a
 * reported range outside guest RAM, is a protocol error (NEEDS_RESET). None touches host memory outside guest RAM.
 */
public final class VirtioBalloon extends VirtioDevice {
    private static final Logger log = LoggerFactory.getLogger(VirtioBalloon.class);
    public static final int QUEUE_SIZE = 128;
    public static final int PAGE = 1 << VIRTIO_BALLOON_PFN_SHIFT;
    /** Most stats one buffer may carry; more are ignored (Linux sends 10 to 16). */
    static final int MAX_STATS = 64;
    private static final int INFLATE = 0, DEFLATE = 1;
    private static final long TOKEN_TICK = 1000;
    /** "VBLN". */
    private static final int STATE_MAGIC = 0x56424C4E;

    private final long ramBytes;
    private final boolean reporting;
    private final boolean deflateOnOom;
    private final int statsSeconds;

    private final AtomicLong inflated = new AtomicLong();
    private final AtomicLong deflated = new AtomicLong();
    private final AtomicLong releasedBytes = new AtomicLong();
    private final AtomicLong reportedBytes = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong releaseErrors = new AtomicLong();
    private final AtomicLong statsUpdates = new AtomicLong();
    private volatile Stats lastStats;

    /**
     * Why pages must not be released now (null: they may): a passed-through device DMA-maps guest RAM and keeps its
     * pages pinned, so a released page would go on receiving the device's writes while the guest faults in a new one.
     * Inflate and reporting are then only counted, as QEMU's balloon inhibitor does.
     */
    private volatile String releaseInhibited;
    private final AtomicLong inhibitedPages = new AtomicLong();

    /** The stats buffer the device holds (its head), -1 for none; touched by the device thread, or quiesced. */
    private int statsHead = -1;
    private Worker worker;

    /** The last stats the driver sent: name → value (in the driver's order) and when they came (epoch ms). */
    public record Stats(Map<String, Long> values, long atMillis) {
        public Stats {
            values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        }
    }

    /**
     * What the balloon is doing: the target and what the driver says it holds (bytes), the driver's features, page
     * counts through the queues, bytes released to the host by inflate and by free page reporting, frame numbers
     * refused, releases the host refused (madvise errors), the last stats (null before any), and why pages are not
     * released now (null: they are) with how many were kept for that reason.
     */
    public record Status(long targetBytes, long actualBytes, boolean active, boolean statsNegotiated,
            boolean reportingNegotiated, boolean deflateOnOomNegotiated, long inflatedPages, long deflatedPages,
            long releasedBytes, long reportedBytes, long refusedPages, long releaseErrors, long statsUpdates,
            int statsIntervalSeconds, Stats stats, String releaseInhibited, long inhibitedPages) {
    }

    /**
     * @param ramBytes     the guest's RAM, which every target must stay below
     * @param targetBytes  the initial target (0: empty), a multiple of 4 KiB below {@code ramBytes}
     * @param reporting    offer free page reporting
     * @param deflateOnOom offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM
     * @param statsSeconds offer the stats queue and ask for fresh stats this often (0: no stats queue)
     */
    public VirtioBalloon(String name, long ramBytes, long targetBytes, boolean reporting, boolean deflateOnOom,
            int statsSeconds) {
        super(name, Config.SIZE);
        if (statsSeconds < 0) {
            throw new IllegalArgumentException(name + ": stats interval " + statsSeconds + " s is negative");
        }
        this.ramBytes = ramBytes;
        this.reporting = reporting;
        this.deflateOnOom = deflateOnOom;
        this.statsSeconds = statsSeconds;
        setConfig(Config.NUM_PAGES, 4, checkTarget(targetBytes) / PAGE);
    }

    @Override
    public int deviceType() {
        return 5;
    }

    @Override
    public int pciClass() {
        return 0x050000; // memory controller, RAM
    }

    @Override
    public long deviceFeatures() {
        long f = 0;
        if (statsSeconds > 0) {
            f |= 1L << VIRTIO_BALLOON_F_STATS_VQ;
        }
        if (deflateOnOom) {
            f |= 1L << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
        }
        if (reporting) {
            f |= 1L << VIRTIO_BALLOON_F_REPORTING;
        }
        return f;
    }

    @Override
    public int queueCount() {
        return 2 + (statsSeconds > 0 ? 1 : 0) + (reporting ? 1 : 0);
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public int maxSegments(int queue) {
        return QUEUE_SIZE;
    }

    /** The index of the stats queue under {@code features}, or -1. */
    static int statsQueue(long features) {
        return (features & 1L << VIRTIO_BALLOON_F_STATS_VQ) != 0 ? 2 : -1;
    }

    /** The index of the reporting queue under {@code features} (after statsq when that exists), or -1. */
    static int reportingQueue(long features) {
        if ((features & 1L << VIRTIO_BALLOON_F_REPORTING) == 0) {
            return -1;
        }
        return statsQueue(features) >= 0 ? 3 : 2;
    }

    // ---- the host's side: target, status ----

    private long checkTarget(long bytes) {
        if (bytes < 0 || bytes % PAGE != 0) {
            throw new IllegalArgumentException(name() + ": balloon size " + bytes + " is not a whole number of 4 KiB "
                    + "pages");
        }
        if (bytes >= ramBytes) {
            throw new IllegalArgumentException(name() + ": balloon size " + (bytes >> 20) + " MiB must be below the "
                    + "guest's RAM (" + (ramBytes >> 20) + " MiB)");
        }
        return bytes;
    }

    /**
     * Sets the target to {@code bytes} (num_pages) and, when a driver runs, raises the configuration-change interrupt
     * so that it inflates or deflates towards it. IllegalArgumentException (naming the sizes) unless it is a whole
     * number of 4 KiB pages below the guest's RAM.
     */
    public synchronized void setTarget(long bytes) {
        setConfig(Config.NUM_PAGES, 4, checkTarget(bytes) / PAGE);
        Activation a = activation();
        if (a != null) {
            a.interrupts().signalConfig();
        }
        log.info("{}: target {} MiB", name(), bytes >> 20);
    }

    public long targetBytes() {
        return (readConfig(Config.NUM_PAGES, 4) & 0xffffffffL) * PAGE;
    }

    /** What the driver says the balloon holds ({@code actual}). */
    public long actualBytes() {
        return (readConfig(Config.ACTUAL, 4) & 0xffffffffL) * PAGE;
    }

    public long ramBytes() {
        return ramBytes;
    }

    public synchronized Status status() {
        Activation a = activation();
        long f = a == null ? 0 : a.features();
        return new Status(targetBytes(), actualBytes(), a != null, statsQueue(f) >= 0, reportingQueue(f) >= 0,
                (f & 1L << VIRTIO_BALLOON_F_DEFLATE_ON_OOM) != 0, inflated.get(), deflated.get(), releasedBytes.get(),
                reportedBytes.get(), refused.get(), releaseErrors.get(), statsUpdates.get(), statsSeconds, lastStats,
                releaseInhibited, inhibitedPages.get());
    }

    /** Stops (a reason) or allows again (null) releasing pages to the host; see {@link #releaseInhibited}. */
    public void inhibitRelease(String reason) {
        String was = releaseInhibited;
        releaseInhibited = reason;
        if (reason != null && was == null) {
            log.info("{}: pages are no longer released to the host: {}", name(), reason);
        } else if (reason == null && was != null) {
            log.info("{}: pages are released to the host again", name());
        }
    }

    /** Pages inflated or reported while releasing was inhibited (kept by the host). */
    public long inhibitedPages() {
        return inhibitedPages.get();
    }

    public Stats lastStats() {
        return lastStats;
    }

    /** Asks the driver for fresh stats now (returns the held buffer), if it negotiated the stats queue. */
    public synchronized void requestStats() {
        if (worker != null && worker.tick != null) {
            worker.tick.signal();
        }
    }

    /** The driver writes {@code actual} (4 bytes at offset 4); the other fields are read-only. */
    @Override
    public void writeConfig(int offset, int size, int value) {
        if (offset >= Config.ACTUAL && size > 0 && offset + size <= Config.ACTUAL + 4) {
            setConfig(offset, size, value);
        }
    }

    // ---- activation and threads ----

    @Override
    protected synchronized void startWorkers(Activation a) {
        if (worker == null) {
            worker = new Worker(a);
            worker.start();
        }
    }

    /** The device thread handles each buffer whole, so once it stops nothing is in flight; a held stats buffer stays. */
    @Override
    protected synchronized void stopWorkers() {
        if (worker != null) {
            worker.close();
            worker = null;
        }
    }

    @Override
    protected synchronized boolean workersRunning() {
        return worker != null;
    }

    @Override
    public synchronized void reset() {
        stopWorkers();
        statsHead = -1; // its queue is reset with the device
        setActivation(null);
    }

    // ---- saved state ----

    /**
     * The configuration space (target, actual), then (format 1) the stats buffer held, the counters and the last
     * stats. Runs quiesced.
     */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        super.saveState(out);
        StateCodec.header(out, STATE_MAGIC, 1);
        out.writeInt(statsHead);
        for (AtomicLong c : counters()) {
            out.writeLong(c.get());
        }
        Stats s = lastStats;
        out.writeBoolean(s != null);
        if (s != null) {
            out.writeLong(s.atMillis());
            out.writeInt(s.values().size());
            for (Map.Entry<String, Long> e : s.values().entrySet()) {
                StateCodec.string(out, e.getKey());
                out.writeLong(e.getValue());
            }
        }
    }

    @Override
    public synchronized void restoreState(StateCodec.Reader in) throws IOException {
        super.restoreState(in);
        in.header(STATE_MAGIC, 1);
        int head = in.readInt("stats_head", -1, QUEUE_SIZE - 1);
        AtomicLong[] cs = counters();
        long[] values = new long[cs.length];
        for (int i = 0; i < cs.length; i++) {
            values[i] = in.readLong("counter " + i);
        }
        Stats stats = null;
        if (in.readBoolean("has_stats")) {
            long at = in.readLong("stats_at");
            int n = in.count("stats", MAX_STATS);
            Map<String, Long> m = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                String k = in.string("stat_name", 64);
                m.put(k, in.readLong("stat_value"));
            }
            stats = new Stats(m, at);
        }
        long target = (readConfig(Config.NUM_PAGES, 4) & 0xffffffffL) * PAGE;
        if (target >= ramBytes) {
            throw in.bad("num_pages", "the saved target " + (target >> 20) + " MiB is not below this VM's RAM ("
                    + (ramBytes >> 20) + " MiB)");
        }
        statsHead = head;
        for (int i = 0; i < cs.length; i++) {
            cs[i].set(values[i]);
        }
        lastStats = stats;
    }

    private AtomicLong[] counters() {
        return new AtomicLong[] {inflated, deflated, releasedBytes, reportedBytes, refused, releaseErrors, statsUpdates};
    }

    @Override
    public void close() {
        reset();
    }

    /** The one device thread: every queue's kick and the stats timer's tick. */
    private final class Worker implements AutoCloseable {
        final DeviceWorker thread;
        final GuestMemory mem;
        final VirtioInterrupts irq;
        final VirtQueue[] queues;
        final EventFd[] kicks;
        final int statsQ;
        final int reportQ;
        /** Signalled every statsSeconds (and by requestStats): return the stats buffer. Null without a stats queue. */
        final EventFd tick;
        final ScheduledExecutorService timer;
        final byte[] statsBytes = new byte[MAX_STATS * VirtioBalloonLayout.Stat.SIZEOF];
        long refusedLogged;

        Worker(Activation a) {
            this.mem = a.memory();
            this.irq = a.interrupts();
            this.queues = a.queues();
            this.kicks = a.kicks();
            this.statsQ = statsQueue(a.features());
            this.reportQ = reportingQueue(a.features());
            this.thread = new DeviceWorker(name(), this::ready, irq);
            EventFd t0 = null;
            try {
                for (int q = 0; q < queueCount(); q++) {
                    thread.watch(kicks[q], q);
                }
                if (statsQ >= 0) {
                    t0 = EventFd.create(name() + "-stats");
                    thread.watch(t0, TOKEN_TICK);
                }
            } catch (RuntimeException e) {
                if (t0 != null) {
                    t0.close();
                }
                thread.close();
                throw e;
            }
            if (statsQ >= 0) {
                tick = t0;
                ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
                    Thread th = new Thread(r, name() + "-stats-timer");
                    th.setDaemon(true);
                    return th;
                });
                t.scheduleAtFixedRate(tick::signal, statsSeconds, statsSeconds, TimeUnit.SECONDS);
                timer = t;
            } else {
                tick = null;
                timer = null;
            }
        }

        void start() {
            thread.start();
        }

        void ready(long token, int events) {
            if (token == TOKEN_TICK) {
                tick.drain();
                returnStatsBuffer();
                return;
            }
            int q = (int) token;
            kicks[q].drain();
            VirtQueue vq = queues[q];
            if (!vq.isReady()) {
                return;
            }
            if (q == INFLATE || q == DEFLATE) {
                serveFrames(vq, q == INFLATE);
            } else if (q == statsQ) {
                takeStats(vq);
            } else if (q == reportQ) {
                serveReports(vq);
            }
            // a kick on a queue that does not exist under the negotiated features is ignored
        }

        /** inflateq / deflateq: buffers of le32 frame numbers (4 KiB units). */
        void serveFrames(VirtQueue vq, boolean inflate) {
            DescriptorChain c;
            while ((c = vq.pop()) != null) {
                long runStart = -1, runEnd = -1;
                for (int i = 0; i < c.readableCount(); i++) {
                    long len = c.length(i);
                    if (len % 4 != 0) {
                        throw new GuestProtocolException(GuestProtocolException.Reason.MALFORMED_REQUEST, name()
                                + ": " + (inflate ? "inflate" : "deflate") + " buffer of " + len + " bytes is not "
                                + "a whole number of 32-bit frame numbers");
                    }
                    long base = c.address(i);
                    for (long o = 0; o < len; o += 4) {
                        long gpa = (Native.getInt(base + o) & 0xffffffffL) << VIRTIO_BALLOON_PFN_SHIFT;
                        if (!mem.contains(gpa, PAGE)) {
                            refuse(gpa, inflate);
                            continue;
                        }
                        if (inflate) {
                            inflated.incrementAndGet();
                            if (gpa == runEnd && mem.contains(runStart, runEnd + PAGE - runStart)) {
                                runEnd += PAGE; // consecutive frames in one region: one madvise
                            } else {
                                releasedBytes.addAndGet(release(runStart, runEnd));
                                runStart = gpa;
                                runEnd = gpa + PAGE;
                            }
                        } else {
                            deflated.incrementAndGet();
                        }
                    }
                }
                releasedBytes.addAndGet(release(runStart, runEnd));
                vq.addUsed(c.head(), 0);
            }
            if (vq.needsInterrupt()) {
                irq.signalQueue(vq.index());
            }
        }

        /** Releases {@code [start, end)} of guest RAM to the host; the bytes released (0 when the host refused). */
        long release(long start, long end) {
            if (start < 0 || end <= start) {
                return 0;
            }
            if (releaseInhibited != null) {
                inhibitedPages.addAndGet((end - start) / PAGE);
                return 0;
            }
            try {
                mem.discard(start, end - start);
                return end - start;
            } catch (VmCoreException e) {
                long n = releaseErrors.incrementAndGet();
                if (n <= 10 || Long.bitCount(n) == 1) {
                    log.warn("{}: releasing guest pages failed ({} time(s)): {}", name(), n, e.getMessage());
                }
                return 0;
            }
        }

        void refuse(long gpa, boolean inflate) {
            long n = refused.incrementAndGet();
            if (n <= 10 || Long.bitCount(n) == 1) {
                log.warn("{}: the driver {} frame 0x{} (gpa 0x{}), which is not guest RAM; refused ({} so far)",
                        name(), inflate ? "inflated" : "deflated", Long.toHexString(gpa >>> VIRTIO_BALLOON_PFN_SHIFT),
                        Long.toHexString(gpa), n);
            }
        }

        /** statsq: the driver's buffer of {le16 tag, le64 val} records; kept until the next tick asks for more. */
        void takeStats(VirtQueue vq) {
            DescriptorChain c;
            while ((c = vq.pop()) != null) {
                int n = 0;
                for (int i = 0; i < c.readableCount() && n < statsBytes.length; i++) {
                    int take = (int) Math.min(c.length(i), statsBytes.length - n);
                    Native.get(c.address(i), statsBytes, n, take);
                    n += take;
                }
                Map<String, Long> m = new LinkedHashMap<>();
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(statsBytes, 0, n).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                while (b.remaining() >= VirtioBalloonLayout.Stat.SIZEOF) {
                    int tag = b.getShort() & 0xffff;
                    m.put(VirtioBalloonLayout.statName(tag), b.getLong());
                }
                lastStats = new Stats(m, System.currentTimeMillis());
                statsUpdates.incrementAndGet();
                if (statsHead >= 0) {
                    // a second buffer while one is held: give the older one back rather than keep it for ever
                    vq.addUsed(statsHead, 0);
                }
                statsHead = c.head();
            }
            if (vq.needsInterrupt()) {
                irq.signalQueue(vq.index());
            }
        }

        void returnStatsBuffer() {
            VirtQueue vq = queues[statsQ];
            if (statsHead < 0 || !vq.isReady()) {
                return;
            }
            vq.addUsed(statsHead, 0);
            statsHead = -1;
            if (vq.needsInterrupt()) {
                irq.signalQueue(vq.index());
            }
        }

        /** Reporting queue: each segment a range of free guest memory to release (whole 4 KiB pages of it). */
        void serveReports(VirtQueue vq) {
            DescriptorChain c;
            while ((c = vq.pop()) != null) {
                for (int i = 0; i < c.count(); i++) {
                    long gpa = c.guestAddress(i);
                    long start = (gpa + PAGE - 1) & -PAGE;
                    long end = (gpa + c.length(i)) & -PAGE;
                    if (end > start) {
                        reportedBytes.addAndGet(release(start, end));
                    }
                }
                vq.addUsed(c.head(), 0);
            }
            if (vq.needsInterrupt()) {
                irq.signalQueue(vq.index());
            }
        }

        @Override
        public void close() {
            if (timer != null) {
                timer.shutdownNow();
                try {
                    timer.awaitTermination(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            thread.close();
            if (tick != null) {
                tick.close();
            }
        }
    }
}

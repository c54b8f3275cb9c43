package dev.jvmm.vmm.migration;

import dev.jvmm.core.DirtyBitmap;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.vmm.Laps;
import dev.jvmm.vmm.Vm;
import dev.jvmm.vmm.VmExit;
import dev.jvmm.vmm.VmSnapshot;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.snapshot.SnapshotDir;
import dev.jvmm.vmm.snapshot.StateFile;
import java.io.DataOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The source of a live migration, pre-copy ({@code vm.send-migration}): sends the VM's config, then all of its RAM
 * while it runs (pages of zeros are skipped: the destination's RAM starts zeroed), then, round after round, the pages
 * written since the last round (KVM's dirty log OR'ed with the pages jvmm's device threads wrote), until the next
 * round is predicted, at the bandwidth measured so far and with the time a (warm) capture of the state takes, to fit
 * in {@code downtime}. Then it pauses the VM, quiesces
 * its devices, flushes its disks, sends the last pages and the state, and waits for the destination to say its VM
 * runs; this VM then ends ({@link VmExit.Kind#MIGRATED}). If anything fails, or {@code timeout} passes first, the
 * destination is told (it exits), dirty logging stops, and this VM goes on as if nothing happened.
 */
public final class MigrationSender {
    private static final Logger log = LoggerFactory.getLogger(MigrationSender.class);
    private static final int PAGE = MigrationProtocol.PAGE;

    private MigrationSender() {
    }

    /**
     * What a migration did: total time, downtime (the pause here to the destination's vCPUs starting) and the part of
     * it spent here (the pause to the state sent: the last pages, the disks' flush, the state), bytes, rounds.
     */
    public record Result(String destination, long totalMs, long downtimeMs, long sourceDowntimeMs, long bytes,
            long pages, int rounds) {
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("destination", destination);
            m.put("total_ms", totalMs);
            m.put("downtime_ms", downtimeMs);
            m.put("downtime_source_ms", sourceDowntimeMs);
            m.put("bytes", bytes);
            m.put("pages", pages);
            m.put("rounds", (long) rounds);
            return m;
        }

        public String line() {
            return String.format("migrated to %s: total %d ms, downtime %d ms (%d ms here, %d ms at the destination), "
                    + "%d MiB sent (%d pages) in %d rounds", destination, totalMs, downtimeMs, sourceDowntimeMs,
                    Math.max(0, downtimeMs - sourceDowntimeMs), bytes >> 20, pages, rounds);
        }
    }

    /**
     * Migrates {@code vm} (running or paused) to {@code destination} ({@code unix:PATH} or {@code tcp:HOST:PORT[,
     * tls-dir=DIR]}). On success the VM is ended shortly after this returns (so that the caller can answer first).
     * CONFLICT for a VM that cannot migrate (a passed-through function, named); TIMEOUT when it did not converge in
     * {@code timeout}; HOST for a failed transfer or a destination that refused; the VM is unharmed in each case.
     */
    public static Result send(Vm vm, VmConfig cfg, String destination, long downtimeMs, Duration timeout) {
        // the destination plugs the devices where they are while the pages arrive: none comes or goes until the end
        vm.devices().freeze("the VM migrates to " + destination);
        try {
            String config = VmSnapshot.config(vm, cfg); // refuses a VM that cannot be saved, before anything else
            return send(vm, config, VmSnapshot.layout(vm), destination, downtimeMs, timeout);
        } finally {
            vm.devices().thaw(); // after a success the VM ends anyway
        }
    }

    private static Result send(Vm vm, String config, byte[] layout, String destination, long downtimeMs,
            Duration timeout) {
        Endpoint ep = Endpoint.parse(destination, "destination");
        long t0 = System.nanoTime();
        long deadline = t0 + timeout.toNanos();
        GuestMemory mem = vm.memory();
        boolean logging = false;
        boolean pausedHere = false;
        boolean macvtapsDown = false;
        boolean done = false;
        long[] sent = new long[2]; // bytes, pages
        int rounds = 0;
        Answers answers = null;
        try (Connection conn = MigrationTransport.connect(ep, Duration.ofSeconds(30))) {
            try {
                DataOutputStream out = conn.out();
                MigrationProtocol.hello(out, config, layout);
                MigrationProtocol.readReady(conn.in());
                answers = new Answers(conn);
                mem.startDirtyLog(vm.vmFd()::setUserMemoryRegion);
                logging = true;
                RamViews ram = new RamViews(mem);
                // round 0: all of RAM that is not zero
                long rt = System.nanoTime();
                sendPages(conn, ram, mem.allPages(), true, sent);
                rounds++;
                MigrationProtocol.sync(out, rounds);
                double bytesPerMs = Math.max(1, sent[0] / Math.max(1.0, (System.nanoTime() - rt) / 1e6));
                VmSnapshot.warmUp(vm); // the switch-over's capture then runs warm
                // a second, warm capture: what reading the state costs in the downtime, however few pages are left.
                // Without it a round that found few pages (a guest whose vCPU happened to be starved) "fits" a
                // downtime_ms the switch-over alone cannot meet.
                long ct = System.nanoTime();
                VmSnapshot.warmUp(vm);
                double stateMs = (System.nanoTime() - ct) / 1e6;
                List<DirtyBitmap> carried = null; // harvested, not sent: the destination was catching up
                long harvestedAt = 0;
                for (;;) {
                    long since = System.nanoTime() - harvestedAt;
                    if (since < MIN_ROUND_NANOS) {
                        // a round shorter than this says nothing of how fast the guest dirties its memory (it may not
                        // have run at all), and each read of the log write-protects what it returns again
                        java.util.concurrent.locks.LockSupport.parkNanos(MIN_ROUND_NANOS - since);
                    }
                    List<DirtyBitmap> dirty = mem.harvestDirty(vm.vmFd()::getDirtyLog);
                    harvestedAt = System.nanoTime();
                    if (carried != null) {
                        for (int i = 0; i < dirty.size(); i++) {
                            or(dirty.get(i), carried.get(i));
                        }
                        carried = null;
                    }
                    long n = dirty.stream().mapToLong(DirtyBitmap::count).sum();
                    double predictedMs = stateMs + n * (double) PAGE / bytesPerMs;
                    log.info("migration round {}: {} dirty pages, {} ms predicted ({} ms of it the state) at {} MB/s",
                            rounds, n, Math.round(predictedMs), Math.round(stateMs), Math.round(bytesPerMs / 1000));
                    answers.failIfFailed(); // the destination failed: no need to send it more
                    if (predictedMs <= downtimeMs && answers.built(BUILT_WAIT) && !answers.caughtUp(rounds, Duration.ZERO)
                            && System.nanoTime() < deadline) {
                        // converged, but the destination still takes earlier rounds (they wait in the sockets'
                        // buffers): pausing now would put them in the downtime. Let it catch up while the VM runs,
                        // then read the dirty log again.
                        answers.caughtUp(rounds, CATCH_UP_WAIT);
                        carried = dirty;
                        continue;
                    }
                    if (predictedMs <= downtimeMs && answers.built(Duration.ZERO)) {
                        // converged, the destination waits for nothing but the state and has taken every page sent:
                        // stop the VM, send the rest
                        long pauseAt = Laps.epochNanos();
                        Laps laps = new Laps();
                        if (!vm.paused()) {
                            vm.pause();
                            pausedHere = true;
                        }
                        laps.lap("pause");
                        vm.quiesceDevices();
                        vm.devices().setMacvtapsUp(false); // the destination's macvtaps take over their MACs
                        macvtapsDown = true;
                        laps.lap("devices quiesced");
                        SnapshotDir.flushDisks(vm);
                        laps.lap("disks flushed");
                        List<DirtyBitmap> last = mem.harvestDirty(vm.vmFd()::getDirtyLog);
                        for (int i = 0; i < last.size(); i++) {
                            or(last.get(i), dirty.get(i));
                        }
                        laps.lap("dirty log read");
                        long pagesBefore = sent[1];
                        sendPages(conn, ram, last, false, sent);
                        rounds++;
                        laps.lap((sent[1] - pagesBefore) + " last pages");
                        java.util.Map<String, byte[]> sections = VmSnapshot.state(vm);
                        laps.lap("state read");
                        byte[] state = StateFile.encode(sections);
                        laps.lap("state encoded (" + state.length + " bytes)");
                        MigrationProtocol.state(out, state);
                        sent[0] += state.length;
                        long stateSentAt = Laps.epochNanos();
                        laps.lap("state sent");
                        long resumedAt = answers.resumedAt(conn);
                        laps.lap("destination runs");
                        log.info("migration switch-over: {}", laps);
                        Result r = new Result(destination, (System.nanoTime() - t0) / 1_000_000,
                                Math.max(0, (resumedAt - pauseAt) / 1_000_000), (stateSentAt - pauseAt) / 1_000_000,
                                sent[0], sent[1], rounds);
                        log.info("{}", r.line());
                        VmExit exit = new VmExit(VmExit.Kind.MIGRATED, r.line());
                        Thread t = new Thread(() -> {
                            try {
                                Thread.sleep(300); // the API's answer goes out first
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                            vm.requestExit(exit);
                        }, "migration-done");
                        t.setDaemon(true);
                        t.start();
                        done = true;
                        return r;
                    }
                    if (System.nanoTime() > deadline) {
                        if (predictedMs <= downtimeMs) {
                            throw new VmmException(VmmException.Reason.TIMEOUT, "the destination did not finish "
                                    + "building its VM within " + timeout.toSeconds() + " s (the transfer had converged)");
                        }
                        throw new VmmException(VmmException.Reason.TIMEOUT, "the migration did not converge within "
                                + timeout.toSeconds() + " s (" + n + " pages dirty in the last round, "
                                + Math.round(predictedMs) + " ms predicted for downtime_ms " + downtimeMs + ")");
                    }
                    rt = System.nanoTime();
                    long before = sent[0];
                    sendPages(conn, ram, dirty, false, sent);
                    rounds++;
                    MigrationProtocol.sync(out, rounds);
                    if (sent[0] - before >= BANDWIDTH_SAMPLE_MIN) {
                        double ms = Math.max(1.0, (System.nanoTime() - rt) / 1e6);
                        bytesPerMs = Math.max(1, (sent[0] - before) / ms);
                    }
                }
            } catch (IOException | RuntimeException e) {
                String why = e instanceof IOException io ? MigrationProtocol.describe(io) : e.getMessage();
                try {
                    MigrationProtocol.message(conn.out(), MigrationProtocol.ABANDON, why == null ? e.toString() : why);
                } catch (IOException gone) {
                    // the destination is gone already
                }
                if (e instanceof IOException && answers != null) {
                    String theirs = answers.error();
                    if (theirs != null) { // a broken pipe because the destination failed: say why it did
                        throw new IOException(theirs, e);
                    }
                }
                throw e;
            }
        } catch (IOException e) {
            throw new VmmException(VmmException.Reason.HOST, "migration to " + destination + " failed: "
                    + MigrationProtocol.describe(e) + "; the VM goes on here", e);
        } catch (VmmException e) {
            throw new VmmException(e.reason(), "migration to " + destination + " failed: " + e.getMessage()
                    + "; the VM goes on here", e);
        } finally {
            if (!done && logging) {
                try {
                    mem.stopDirtyLog(vm.vmFd()::setUserMemoryRegion);
                } catch (RuntimeException e) {
                    log.warn("stopping the dirty log: {}", e.getMessage());
                }
                if (macvtapsDown) {
                    vm.devices().setMacvtapsUp(true);
                }
                vm.unquiesceDevices();
                if (pausedHere && vm.paused()) {
                    vm.resume();
                }
            }
        }
    }

    /** How long the destination may take to load the state and resume the VM once it has it. */
    static final Duration OUTCOME_TIMEOUT = Duration.ofSeconds(120);
    /**
     * The least a round must send to measure the bandwidth: a smaller one only fills the sockets' buffers (MiBs on
     * loopback, more so once the destination has caught up), and its speed says nothing of the link; the estimate
     * of the last round that was large enough (the first one, at least) is kept.
     */
    private static final long BANDWIDTH_SAMPLE_MIN = 16L << 20;
    /** The shortest time between two reads of the dirty log while the VM runs. */
    private static final long MIN_ROUND_NANOS = 50_000_000L;
    /**
     * How long a converged round waits for the destination to take the rounds before it (SYNCED) before it reads the
     * dirty log again.
     */
    private static final Duration CATCH_UP_WAIT = Duration.ofMillis(100);
    /** How long a converged round waits for the destination's BUILT before it sends another round. */
    private static final Duration BUILT_WAIT = Duration.ofMillis(100);

    /**
     * The destination's answers after READY, read on a thread of their own: BUILT, then RESUMED, or ERROR at any
     * point (or the connection's end), which fails both.
     */
    private static final class Answers {
        private final java.util.concurrent.CompletableFuture<Void> built = new java.util.concurrent.CompletableFuture<>();
        private final java.util.concurrent.CompletableFuture<Long> resumed =
                new java.util.concurrent.CompletableFuture<>();
        /** The last round the destination said SYNCED to. */
        private long syncedRound;

        Answers(Connection conn) {
            Thread t = new Thread(() -> {
                try {
                    for (;;) {
                        MigrationProtocol.Answer a = MigrationProtocol.readAnswer(conn.in());
                        if (a.type() == MigrationProtocol.BUILT) {
                            built.complete(null);
                        } else if (a.type() == MigrationProtocol.SYNCED) {
                            synced(a.value());
                        } else {
                            resumed.complete(a.value());
                            return;
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    built.completeExceptionally(e);
                    resumed.completeExceptionally(e);
                    synced(Long.MAX_VALUE); // no one waits for a round any more: the failure shows at once
                }
            }, "migration-answers");
            t.setDaemon(true); // closing the connection ends it
            t.start();
        }

        /** Whether the destination said BUILT, waiting up to {@code wait} for it. */
        boolean built(Duration wait) throws IOException {
            try {
                built.get(wait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
                return true;
            } catch (java.util.concurrent.TimeoutException e) {
                return false;
            } catch (java.util.concurrent.ExecutionException e) {
                throw cause(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while waiting for the destination");
            }
        }

        private synchronized void synced(long round) {
            syncedRound = Math.max(syncedRound, round);
            notifyAll();
        }

        /**
         * Whether the destination has taken every page up to the end of round {@code round} (its SYNCED), waiting up
         * to {@code wait} for it.
         */
        synchronized boolean caughtUp(long round, Duration wait) throws IOException {
            long until = System.nanoTime() + wait.toNanos();
            long left;
            while (syncedRound < round && (left = until - System.nanoTime()) > 0) {
                try {
                    java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while waiting for the destination");
                }
            }
            return syncedRound >= round;
        }

        /** Throws the destination's error (or the connection's end) if it came already. */
        void failIfFailed() throws IOException {
            if (built.isCompletedExceptionally()) {
                built(Duration.ZERO);
            }
        }

        /**
         * The destination's vCPUs' start time, within {@link #OUTCOME_TIMEOUT}: a destination that hangs gets its
         * connection closed, and the VM resumes here.
         */
        long resumedAt(Connection conn) throws IOException {
            try {
                return resumed.get(OUTCOME_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                conn.close();
                throw new IOException("the destination did not say within " + OUTCOME_TIMEOUT.toSeconds()
                        + " s whether its VM runs", e);
            } catch (java.util.concurrent.ExecutionException e) {
                throw cause(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while waiting for the destination");
            }
        }

        /**
         * The error the destination sent before it closed the connection (it fails while the pages are still going,
         * for example when it cannot build the VM), waited for 2 s; null if it sent none.
         */
        String error() {
            try {
                resumed.get(2, java.util.concurrent.TimeUnit.SECONDS);
                return null;
            } catch (java.util.concurrent.ExecutionException e) {
                String m = e.getCause().getMessage();
                return m != null && m.startsWith("the destination failed: ") ? m : null;
            } catch (java.util.concurrent.TimeoutException e) {
                return null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }

        private static IOException cause(java.util.concurrent.ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                return io;
            }
            return new IOException(c.getMessage() != null ? c.getMessage() : c.toString(), c);
        }
    }

    private static void or(DirtyBitmap into, DirtyBitmap from) {
        long[] a = into.words(), b = from.words();
        for (int i = 0; i < a.length; i++) {
            a[i] |= b[i];
        }
    }

    /**
     * Sends the pages set in {@code maps} in runs of up to a frame; {@code skipZero}: leave out pages of zeros. The
     * bitmap is walked a word at a time, and within a word from one set bit to the next: a round often sends a few
     * pages out of hundreds of thousands.
     */
    private static void sendPages(Connection conn, RamViews ram, List<DirtyBitmap> maps, boolean skipZero,
            long[] sent) throws IOException {
        for (DirtyBitmap m : maps) {
            GuestMemory.Region r = m.region();
            long pages = m.pages();
            long[] w = m.words();
            long p = nextSet(w, 0, pages);
            while (p < pages) {
                if (skipZero && GuestMemory.isZeroPage(r.hostAddress() + p * PAGE)) {
                    p = nextSet(w, p + 1, pages);
                    continue;
                }
                long start = p;
                while (p < pages && p - start < MigrationProtocol.MAX_RUN_PAGES && (w[(int) (p >>> 6)] & 1L << p) != 0
                        && !(skipZero && GuestMemory.isZeroPage(r.hostAddress() + p * PAGE))) {
                    p++;
                }
                int n = (int) (p - start);
                MigrationProtocol.pages(conn, ram, r.guestPhysAddr() + start * PAGE, n);
                sent[0] += (long) n * PAGE + 16;
                sent[1] += n;
                p = nextSet(w, p, pages);
            }
        }
    }

    /** The first page at or after {@code from} whose bit is set in {@code w}, or {@code pages} if none. */
    static long nextSet(long[] w, long from, long pages) {
        if (from >= pages) {
            return pages;
        }
        int i = (int) (from >>> 6);
        long word = w[i] & (-1L << from); // the bits at and above from's in its word
        while (word == 0) {
            if (++i >= w.length) {
                return pages;
            }
            word = w[i];
        }
        return Math.min(pages, ((long) i << 6) + Long.numberOfTrailingZeros(word));
    }
}

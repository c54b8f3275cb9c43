package dev.jvmm.vmm.migration;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.vmm.Laps;
import dev.jvmm.vmm.Vm;
import dev.jvmm.vmm.VmBuilder;
import dev.jvmm.vmm.VmRunner;
import dev.jvmm.vmm.VmSnapshot;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.snapshot.StateFile;
import java.io.IOException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The destination of a live migration ({@code jvmm launch --incoming SPEC}): accepts the one connection, reads the
 * VM's config from it ({@link #config()}), then the guest's RAM and its state ({@link #receive}), and once the VM
 * built from them runs, tells the source ({@link #started}) so that it can exit. Any failure is sent back to the
 * source as an error (it then resumes its VM) and ends this launch with it.
 */
public final class MigrationReceiver implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MigrationReceiver.class);
    private final Connection conn;
    private final String config;
    private final byte[] layout;
    private volatile long pages;
    private long t0;
    private boolean failed;
    /** When the state had arrived (System.nanoTime). */
    private volatile long stateAtEpoch;
    private Thread transfer;
    private VmSnapshot.Restore restore;
    /** How long the state took to check and decode once it had arrived. */
    private volatile long decodeMs;

    private MigrationReceiver(Connection conn, MigrationProtocol.Hello hello) {
        this.conn = conn;
        this.config = hello.config();
        this.layout = hello.layout();
    }

    /**
     * Listens at {@code spec} ({@code --incoming}), says where once it does, accepts one source and reads its HELLO.
     */
    public static MigrationReceiver accept(String spec, Duration timeout, java.util.function.Consumer<String> say) {
        Endpoint e = Endpoint.parse(spec, "--incoming");
        Connection c;
        try (MigrationTransport.Listener l = MigrationTransport.listen(e)) {
            say.accept("waiting for an incoming migration at " + l.address());
            c = l.accept(timeout);
        }
        try {
            MigrationProtocol.Hello hello = MigrationProtocol.readHello(c.in());
            log.info("incoming migration from {}: config received", c.peer());
            return new MigrationReceiver(c, hello);
        } catch (IOException ex) {
            c.close();
            throw new VmmException(VmmException.Reason.CONFIG, "incoming migration from " + c.peer() + ": "
                    + MigrationProtocol.describe(ex), ex);
        }
    }

    /** The VM's config as the source sent it (the {@code --config} form; the launch's options override it). */
    public String config() {
        return config;
    }

    public String peer() {
        return conn.peer();
    }

    /**
     * Makes the VM's RAM for {@code cfg}, tells the source it is ready, and takes every page it sends and then the
     * state on a thread of its own; returns at once what to build the VM from: the VM is built and its devices plugged
     * (from HELLO's layout) while the pages arrive, and the build waits for the state (it resumes at once). Errors
     * are sent to the source and thrown, here or from the build's wait.
     */
    public VmSnapshot.Restore receive(VmConfig cfg) {
        t0 = System.nanoTime();
        GuestMemory ram;
        try {
            ram = VmBuilder.createRam(cfg);
        } catch (RuntimeException ex) {
            throw fail(ex);
        }
        java.util.concurrent.CompletableFuture<java.util.Map<String, byte[]>> state =
                new java.util.concurrent.CompletableFuture<>();
        VmSnapshot.Restore r = new VmSnapshot.Restore(layout, state, "migration from " + conn.peer(), ram,
                this::built, this::buildFailed);
        try {
            answer(MigrationProtocol.READY);
        } catch (IOException ex) {
            ram.close();
            throw fail(VmmException.Reason.HOST, MigrationProtocol.describe(ex), ex);
        }
        transfer = new Thread(() -> {
            try {
                long[] n = new long[1];
                byte[] bytes = MigrationProtocol.receivePages(conn, ram, n, round -> {
                    synchronized (this) {
                        MigrationProtocol.synced(conn.out(), round);
                    }
                });
                pages = n[0];
                long stateAt = System.nanoTime();
                stateAtEpoch = Laps.epochNanos();
                java.util.Map<String, byte[]> sections = StateFile.decode(bytes, "the migration's state");
                decodeMs = (System.nanoTime() - stateAt) / 1_000_000;
                log.info("incoming migration: {} MiB of pages and the state received in {} ms", (pages * 4096) >> 20,
                        (System.nanoTime() - t0) / 1_000_000);
                state.complete(sections);
            } catch (StateFormatException ex) {
                state.completeExceptionally(fail(VmmException.Reason.CONFIG, ex.getMessage(), ex));
            } catch (IOException ex) {
                state.completeExceptionally(fail(VmmException.Reason.HOST, MigrationProtocol.describe(ex), ex));
            } catch (RuntimeException ex) {
                state.completeExceptionally(fail(ex));
            }
        }, "migration-receive");
        transfer.setDaemon(true);
        transfer.start();
        restore = r;
        return r; // the build owns the RAM now (it stops the transfer and unmaps it if it fails)
    }

    /** Sends an answer; the build's, the transfer's and the runner's threads each send theirs. */
    private synchronized void answer(int type) throws IOException {
        MigrationProtocol.answer(conn.out(), type);
    }

    /** The VM is built and waits for the state: the source may pause its own now (it does not before). */
    private void built() {
        try {
            answer(MigrationProtocol.BUILT);
            log.info("incoming migration: the VM is built {} ms after the start; the source may switch over",
                    (System.nanoTime() - t0) / 1_000_000);
        } catch (IOException e) {
            log.debug("incoming migration: could not say BUILT: {}", e.getMessage()); // the transfer fails too
        }
    }

    /**
     * The VM could not be built: the source is told why (it resumes its VM), and the transfer into the VM's RAM is
     * stopped before the build frees that RAM.
     */
    private void buildFailed(RuntimeException e) {
        fail(e);
        conn.close();
        Thread t = transfer;
        if (t != null) {
            try {
                t.join(30_000);
            } catch (InterruptedException x) {
                Thread.currentThread().interrupt();
            }
            if (t.isAlive()) {
                log.warn("incoming migration: the transfer thread did not stop after its connection was closed");
            }
        }
    }

    /** The VM built from the migration runs: tell the source (it exits), and have the guest announce its NICs. */
    public void started(Vm vm) {
        Laps laps = restore == null ? null : restore.laps();
        String steps = laps == null ? "-" : laps.lap("vCPUs started").toString();
        long entered = vm.firstEntryEpochNanos(1000); // the downtime ends at vCPU 0's first KVM_RUN
        if (entered == 0) {
            entered = Laps.epochNanos();
        }
        try {
            synchronized (this) {
                MigrationProtocol.resumed(conn.out(), entered);
            }
        } catch (IOException e) {
            log.warn("incoming migration: could not tell the source that the VM runs: {}", e.getMessage());
        }
        int announced = 0;
        for (var p : vm.devices().devices()) {
            if (p.transport() != null && p.transport().device() instanceof dev.jvmm.virtio.net.VirtioNet n
                    && n.announce()) {
                announced++;
            }
        }
        log.info("incoming migration complete: vCPU 0 entered KVM_RUN {} ms after the state arrived (decoded in {} ms; "
                + "then {}; {} pages received, {} NIC(s) asked to announce)", (entered - stateAtEpoch) / 1_000_000,
                decodeMs, steps, pages, announced);
        conn.close();
    }

    /** As {@link #fail(VmmException.Reason, String, Throwable)} for {@code e} (its reason if it is a VMM error). */
    private VmmException fail(RuntimeException e) {
        return fail(e instanceof VmmException v ? v.reason() : VmmException.Reason.INTERNAL, e.getMessage(), e);
    }

    /** Tells the source that this side failed (best effort) and returns the error to throw. */
    public synchronized VmmException fail(VmmException.Reason reason, String message, Throwable cause) {
        if (!failed) { // once: a failure reported on the way up is not sent again
            failed = true;
            try {
                MigrationProtocol.message(conn.out(), MigrationProtocol.ERROR, message);
            } catch (IOException e) {
                // the source is gone: it has its own error
            }
        }
        return new VmmException(reason, "incoming migration from " + conn.peer() + ": " + message, cause);
    }

    /** A lifecycle that reports the first VM's start to the source, then passes every event on to {@code next}. */
    public VmRunner.Lifecycle lifecycle(VmRunner.Lifecycle next) {
        return new VmRunner.Lifecycle() {
            private boolean first = true;

            @Override
            public void started(Vm vm) {
                if (first) {
                    first = false;
                    MigrationReceiver.this.started(vm);
                }
                next.started(vm);
            }

            @Override
            public void stopped(Vm vm) {
                next.stopped(vm);
            }

            @Override
            public void closed(Vm vm) {
                next.closed(vm);
            }
        };
    }

    @Override
    public void close() {
        conn.close();
    }
}

package dev.jvmm.vmm;

import dev.jvmm.core.Bus;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.kvm.ExitReason;
import dev.jvmm.sys.kvm.Regs;
import dev.jvmm.sys.kvm.VcpuFd;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One vCPU thread ({@code vcpu-N}): KVM_RUN in a loop, port I/O to the PIO bus, MMIO to the MMIO bus, and the
 * exits that end the VM (triple fault, internal error, failed entry, system events) reported as {@link VmExit}.
 * {@link #kick()} gets it out of KVM_RUN: {@code immediate_exit} plus a SIGUSR1 aimed at its thread.
 */
final class Vcpu implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Vcpu.class);
    static final int SIGUSR1 = 10;
    private static volatile boolean signalInstalled;

    private final VcpuFd fd;
    private final Bus pio;
    private final Bus mmio;
    private final Consumer<VmExit> onExit;
    private final Thread thread;
    /** KVM_RUN returns by {@link ExitReason#ordinal()}; written by this vCPU's thread only, read after it stopped. */
    private final long[] exits = new long[ExitReason.values().length];
    private volatile boolean stopping;
    private volatile int tid;
    /** When the thread first entered KVM_RUN (epoch ns), 0 before. */
    private volatile long firstEntry;
    /** Pause: asked for by {@link #pause()}, acknowledged by the thread parking outside KVM_RUN. */
    private final Object pauseLock = new Object();
    private volatile boolean pauseRequested;
    private boolean parked;

    Vcpu(VcpuFd fd, Bus pio, Bus mmio, Consumer<VmExit> onExit) {
        this.fd = fd;
        this.pio = pio;
        this.mmio = mmio;
        this.onExit = onExit;
        this.thread = new Thread(this::loop, "vcpu-" + fd.id());
        this.thread.setDaemon(true);
    }

    /** A SIGUSR1 handler must exist, or the kick would kill the process; the JVM's handler only queues it. */
    static synchronized void installKickSignal() {
        if (!signalInstalled) {
            sun.misc.Signal.handle(new sun.misc.Signal("USR1"), s -> { });
            signalInstalled = true;
        }
    }

    /** Exits to userspace by reason (only those that happened); read once the vCPU has stopped. */
    java.util.Map<ExitReason, Long> exitCounts() {
        java.util.Map<ExitReason, Long> m = new java.util.EnumMap<>(ExitReason.class);
        for (ExitReason r : ExitReason.values()) {
            if (exits[r.ordinal()] != 0) {
                m.put(r, exits[r.ordinal()]);
            }
        }
        return m;
    }

    /** This vCPU's index. */
    int id() {
        return fd.id();
    }

    /** Starts the thread (once; later calls do nothing): it enters KVM_RUN unless a pause was requested before. */
    void start() {
        if (thread.getState() == Thread.State.NEW) {
            thread.start();
        }
    }

    private void loop() {
        tid = Native.LIBC.gettid();
        if (fd.id() == 0) {
            StartupTrace.mark("vcpu 0 entering KVM_RUN");
        }
        try {
            while (!stopping) {
                if (pauseRequested) {
                    park();
                    continue;
                }
                if (firstEntry == 0) {
                    firstEntry = Laps.epochNanos();
                }
                ExitReason r = fd.run();
                exits[r.ordinal()]++;
                switch (r) {
                    case IO -> io();
                    case MMIO -> mmio();
                    case INTR, HLT -> { }
                    case SHUTDOWN -> {
                        onExit.accept(new VmExit(VmExit.Kind.TRIPLE_FAULT, String.format(
                                "guest triple-faulted (KVM_EXIT_SHUTDOWN) on vcpu %d at rip 0x%x", fd.id(), rip())));
                        return;
                    }
                    case INTERNAL_ERROR -> {
                        long[] d = fd.internalData();
                        StringBuilder sb = new StringBuilder();
                        for (long x : d) {
                            sb.append(String.format(" 0x%x", x));
                        }
                        onExit.accept(new VmExit(VmExit.Kind.KVM_ERROR, String.format(
                                "KVM internal error (KVM_EXIT_INTERNAL_ERROR, suberror %d%s) on vcpu %d at rip 0x%x%s",
                                fd.internalSuberror(), suberrorName(fd.internalSuberror()), fd.id(), rip(),
                                d.length > 0 ? ", data" + sb : "")));
                        return;
                    }
                    case FAIL_ENTRY -> {
                        onExit.accept(new VmExit(VmExit.Kind.KVM_ERROR, String.format(
                                "VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason 0x%x) on vcpu %d",
                                fd.failEntryReason(), fd.id())));
                        return;
                    }
                    case SYSTEM_EVENT -> {
                        int t = fd.systemEventType();
                        if (t == KvmConstants.KVM_SYSTEM_EVENT_SHUTDOWN) {
                            onExit.accept(new VmExit(VmExit.Kind.POWEROFF, "guest powered off (KVM system event)"));
                        } else if (t == KvmConstants.KVM_SYSTEM_EVENT_RESET) {
                            onExit.accept(new VmExit(VmExit.Kind.RESET, "guest reset (KVM system event)"));
                        } else {
                            onExit.accept(new VmExit(VmExit.Kind.PANIC, "guest crashed (KVM system event " + t + ")"));
                        }
                        return;
                    }
                    default -> {
                        onExit.accept(new VmExit(VmExit.Kind.KVM_ERROR, "unhandled KVM exit reason "
                                + fd.rawExitReason() + " on vcpu " + fd.id()));
                        return;
                    }
                }
            }
            // Stopped from outside (another exit event, a signal): say where the guest was, for hangs.
            if (log.isDebugEnabled()) {
                log.debug("vcpu {}: stopped at {}", fd.id(), state());
            }
        } catch (RuntimeException e) {
            log.debug("vcpu {}: failed", fd.id(), e);
            onExit.accept(new VmExit(VmExit.Kind.VMM_ERROR, "vcpu " + fd.id() + ": " + e.getMessage()));
        }
    }

    private static String suberrorName(int s) {
        return switch (s) {
            case 1 -> " KVM_INTERNAL_ERROR_EMULATION";
            case 2 -> " KVM_INTERNAL_ERROR_SIMUL_EX";
            case 3 -> " KVM_INTERNAL_ERROR_DELIVERY_EV";
            case 4 -> " KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON";
            default -> "";
        };
    }

    /** RIP, RFLAGS, CS and the control registers, for reports of where a guest was. */
    String state() {
        try {
            Regs r = fd.getRegs();
            dev.jvmm.sys.kvm.Sregs sr = fd.getSregs();
            return String.format("rip 0x%x rflags 0x%x rsp 0x%x cs 0x%x (base 0x%x l=%d db=%d) cr0 0x%x cr3 0x%x cr4 0x%x"
                    + " efer 0x%x", r.rip, r.rflags, r.rsp, sr.cs.selector, sr.cs.base, sr.cs.l, sr.cs.db, sr.cr0, sr.cr3,
                    sr.cr4, sr.efer);
        } catch (RuntimeException e) {
            return "(registers unreadable: " + e.getMessage() + ")";
        }
    }

    private long rip() {
        try {
            Regs r = fd.getRegs();
            return r.rip;
        } catch (RuntimeException e) {
            return -1;
        }
    }

    private void io() {
        int port = fd.ioPort();
        int size = fd.ioSize();
        boolean out = fd.ioIsOut();
        for (int i = 0, n = fd.ioCount(); i < n; i++) {
            long a = fd.ioDataAddress(i);
            if (out) {
                pio.write(port, size, Native.getSized(a, size));
            } else {
                Native.putSized(a, size, pio.read(port, size));
            }
        }
    }

    private void mmio() {
        long addr = fd.mmioPhysAddr();
        int len = fd.mmioLen();
        long a = fd.mmioDataAddress();
        if (fd.mmioIsWrite()) {
            mmio.write(addr, len, Native.getSized(a, len));
        } else {
            Native.putSized(a, len, mmio.read(addr, len));
        }
    }

    /** Parks this thread (outside KVM_RUN) until {@link #unpause()} or a stop. */
    private void park() {
        completePendingIo();
        synchronized (pauseLock) {
            parked = true;
            pauseLock.notifyAll();
            try {
                while (pauseRequested && !stopping) {
                    pauseLock.wait();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopping = true;
            } finally {
                parked = false;
            }
        }
        if (!stopping) {
            fd.setImmediateExit(false);
        }
    }

    /**
     * Lets KVM finish the instruction of the last I/O or MMIO exit (an IN's data goes into the guest's register)
     * without entering the guest, so that the registers a paused vCPU shows are complete (a saved state needs
     * that). A string instruction with more to do exits again: that access is served and the loop goes on.
     */
    private void completePendingIo() {
        for (;;) {
            ExitReason r = fd.completePendingIo();
            if (r == ExitReason.IO) {
                exits[r.ordinal()]++;
                io();
            } else if (r == ExitReason.MMIO) {
                exits[r.ordinal()]++;
                mmio();
            } else {
                return;
            }
        }
    }

    /** The vCPU's fd (for its saved state, read while it is paused). */
    dev.jvmm.sys.kvm.VcpuFd fd() {
        return fd;
    }

    /**
     * Gets the vCPU out of KVM_RUN and parks it; returns once it is parked (or has ended), false if it did not
     * within {@code timeoutMs}.
     */
    boolean pause(long timeoutMs) {
        synchronized (pauseLock) {
            pauseRequested = true;
        }
        fd.setImmediateExit(true);
        int t = tid;
        if (t != 0 && thread.isAlive()) {
            Native.LIBC.tgkill(Native.LIBC.getpid(), t, SIGUSR1);
        }
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        synchronized (pauseLock) {
            while (!parked && thread.isAlive() && tid != 0) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    return false;
                }
                try {
                    pauseLock.wait(Math.min(left, 20));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
                if (!parked && t != 0 && thread.isAlive()) {
                    Native.LIBC.tgkill(Native.LIBC.getpid(), t, SIGUSR1); // in case the first signal came too early
                }
            }
        }
        return true;
    }

    /** Before {@link #start()}: the thread parks before its first KVM_RUN, until {@link #unpause()}. */
    void requestPause() {
        synchronized (pauseLock) {
            pauseRequested = true;
        }
    }

    /** Lets a paused vCPU run again. */
    void unpause() {
        synchronized (pauseLock) {
            pauseRequested = false;
            pauseLock.notifyAll();
        }
    }

    /** Asks the thread to stop and gets it out of KVM_RUN. */
    void kick() {
        stopping = true;
        synchronized (pauseLock) {
            pauseLock.notifyAll();
        }
        fd.setImmediateExit(true);
        int t = tid;
        if (t != 0 && thread.isAlive()) {
            Native.LIBC.tgkill(Native.LIBC.getpid(), t, SIGUSR1);
        }
    }

    /** Stops the thread (kicking until it leaves KVM_RUN); returns whether it ended. */
    boolean stop(long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        while (thread.isAlive() && System.nanoTime() < deadline) {
            kick();
            try {
                thread.join(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return !thread.isAlive();
    }

    /** When this vCPU first entered KVM_RUN, in nanoseconds since the epoch; 0 if it has not yet. */
    long firstEntryEpochNanos() {
        return firstEntry;
    }

    boolean started() {
        return thread.isAlive() || tid != 0;
    }

    @Override
    public void close() {
        if (started() && !stop(2000)) {
            log.warn("vcpu {}: thread did not leave KVM_RUN; leaving its fd open", fd.id());
            return;
        }
        fd.close();
    }
}

package dev.jvmm.vmm;

import dev.jvmm.core.Bus;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.PciRootBus;
import dev.jvmm.sys.kvm.VmFd;
import dev.jvmm.vmm.boot.BootEntry;
import dev.jvmm.vmm.devices.DeviceManager;
import dev.jvmm.vmm.devices.GedDevice;
import dev.jvmm.vmm.devices.Serial16550;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A built VM, ready to run: KVM VM fd with in-kernel irqchip and PIT, guest RAM, the PIO/MMIO buses with the
 * platform devices, the PCI root bus, and one {@link Vcpu} per vCPU. {@link #run()} starts the vCPU threads and
 * returns the first {@link VmExit}; {@link #close()} stops the threads and unwinds every resource in reverse.
 */
public final class Vm implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Vm.class);

    private final VmFd vmFd;
    private final GuestMemory memory;
    private final Bus pio;
    private final Bus mmio;
    private final PciRootBus pci;
    private final List<Vcpu> vcpus;
    private final Serial16550 serial;
    private final Platform platform;
    private final dev.jvmm.sys.kvm.Kvm kvm;
    private final BootEntry entry;
    private final ResourceStack resources;
    private final CompletableFuture<VmExit> exit;
    private final DeviceManager devices;
    private final GedDevice ged;
    private boolean paused;
    private long clockAtPause = -1;

    Vm(dev.jvmm.sys.kvm.Kvm kvm, VmFd vmFd, GuestMemory memory, Bus pio, Bus mmio, PciRootBus pci, List<Vcpu> vcpus,
            Platform platform, BootEntry entry, ResourceStack resources, CompletableFuture<VmExit> exit,
            DeviceManager devices) {
        this.kvm = kvm;
        this.platform = platform;
        this.devices = devices;
        this.ged = platform.ged();
        Serial16550 serial = platform.serial();
        this.vmFd = vmFd;
        this.memory = memory;
        this.pio = pio;
        this.mmio = mmio;
        this.pci = pci;
        this.vcpus = vcpus;
        this.serial = serial;
        this.entry = entry;
        this.resources = resources;
        this.exit = exit;
    }

    /** The vCPUs (their exit counts, for {@link VmStats}). */
    List<Vcpu> vcpus() {
        return vcpus;
    }

    public GuestMemory memory() {
        return memory;
    }

    public Bus pio() {
        return pio;
    }

    public Bus mmio() {
        return mmio;
    }

    public PciRootBus pci() {
        return pci;
    }

    public VmFd vmFd() {
        return vmFd;
    }

    public BootEntry bootEntry() {
        return entry;
    }

    public int vcpuCount() {
        return vcpus.size();
    }

    /** The platform devices (for a saved state). */
    Platform platform() {
        return platform;
    }

    /** The /dev/kvm handle the VM was made with (its MSR list, supported CPUID). */
    dev.jvmm.sys.kvm.Kvm kvm() {
        return kvm;
    }

    /**
     * Stops the device threads of every virtio device between requests (a saved state must see them hold still);
     * {@link #unquiesceDevices()} starts them again.
     */
    public void quiesceDevices() {
        devices.setQuiesced(true);
    }

    public void unquiesceDevices() {
        devices.setQuiesced(false);
    }

    /**
     * Makes {@link #run} start with every vCPU parked, as {@link #pause()} leaves them, the guest's clock held at
     * {@code clock} until {@link #resume()} (a restored VM that waits for its resume).
     */
    synchronized void startPaused(long clock) {
        for (Vcpu v : vcpus) {
            v.requestPause();
        }
        clockAtPause = clock;
        paused = true;
    }

    /**
     * When vCPU 0 first entered KVM_RUN (nanoseconds since the epoch), waiting up to {@code timeoutMs} for it (a
     * migration's downtime ends there); 0 if it has not by then.
     */
    public long firstEntryEpochNanos(long timeoutMs) {
        Vcpu v = vcpus.get(0);
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        long at;
        while ((at = v.firstEntryEpochNanos()) == 0 && System.nanoTime() < deadline && !exit.isDone()) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return at;
    }

    /** The VM's PCI devices: what the config plugged in, and what the control API adds and removes. */
    public DeviceManager devices() {
        return devices;
    }

    /**
     * Stops every vCPU outside KVM_RUN and holds the guest's kvmclock, so that the guest's time does not advance
     * while it is paused. CONFLICT if already paused.
     */
    public synchronized void pause() {
        if (paused) {
            throw new VmmException(VmmException.Reason.CONFLICT, "the VM is already paused");
        }
        if (exit.isDone()) {
            throw new VmmException(VmmException.Reason.CONFLICT, "the VM is stopping");
        }
        for (Vcpu v : vcpus) {
            if (!v.pause(5000)) {
                vcpus.forEach(Vcpu::unpause);
                throw new VmmException(VmmException.Reason.INTERNAL, "vcpu " + v.id() + " did not leave KVM_RUN within 5 s");
            }
        }
        try {
            clockAtPause = vmFd.getClock();
        } catch (RuntimeException e) {
            clockAtPause = -1;
            log.warn("KVM_GET_CLOCK: {} (the guest's clock will jump by the pause)", e.getMessage());
        }
        paused = true;
        log.info("VM paused ({} vcpu(s) parked)", vcpus.size());
    }

    /** Lets the vCPUs run again, the guest's kvmclock where it was at the pause. CONFLICT if not paused. */
    public synchronized void resume() {
        if (!paused) {
            throw new VmmException(VmmException.Reason.CONFLICT, "the VM is not paused");
        }
        if (clockAtPause >= 0) {
            try {
                vmFd.setClock(clockAtPause);
            } catch (RuntimeException e) {
                log.warn("KVM_SET_CLOCK: {}", e.getMessage());
            }
        }
        paused = false;
        vcpus.forEach(Vcpu::unpause);
        log.info("VM resumed");
    }

    public synchronized boolean paused() {
        return paused;
    }

    /** Presses the ACPI power button (a GED event the guest's button driver turns into KEY_POWER). */
    public void pressPowerButton() {
        ged.notify(GedDevice.POWER_BUTTON);
    }

    /** Whether the run has ended (an exit event happened). */
    public boolean exited() {
        return exit.isDone();
    }

    /** Ends the run from outside (e.g. a signal handler or a test): {@link #run()} returns {@code reason}. */
    public void requestExit(VmExit reason) {
        exit.complete(reason);
    }

    /** Starts every vCPU and waits for the first exit event; the vCPUs are stopped before this returns. */
    public VmExit run() {
        return run(vm -> { });
    }

    /** As {@link #run()}; {@code started} runs once the vCPUs are running (e.g. to start the control API). */
    public VmExit run(java.util.function.Consumer<Vm> started) {
        log.debug("starting {} vcpu(s), boot: {}", vcpus.size(), entry.description());
        for (Vcpu v : vcpus) {
            v.start();
        }
        try {
            started.accept(this);
        } catch (RuntimeException e) {
            exit.complete(new VmExit(VmExit.Kind.VMM_ERROR, e.getMessage()));
        }
        Thread flusher = new Thread(() -> {
            while (!exit.isDone()) {
                serial.flushIfDirty();
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "console-flush");
        flusher.setDaemon(true);
        flusher.start();
        // SIGTERM/SIGINT/SIGHUP: stop the vCPUs and unwind like any other exit before the JVM goes away.
        java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
        Thread hook = new Thread(() -> {
            exit.complete(new VmExit(VmExit.Kind.VMM_ERROR, "jvmm was terminated by a signal"));
            try {
                stopped.await(5, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }, "vm-signal-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return runUntilExit();
        } finally {
            stopped.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it waits for this method to finish the teardown
            }
        }
    }

    private VmExit runUntilExit() {
        VmExit e;
        try {
            e = exit.get();
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            e = new VmExit(VmExit.Kind.VMM_ERROR, "interrupted");
        } catch (ExecutionException ee) {
            e = new VmExit(VmExit.Kind.VMM_ERROR, String.valueOf(ee.getCause()));
        }
        log.debug("exit event: {} ({}); stopping the vcpus", e.kind(), e.message());
        for (Vcpu v : vcpus) {
            v.kick();
        }
        for (Vcpu v : vcpus) {
            v.stop(2000);
        }
        serial.flushIfDirty();
        log.debug("vcpus stopped");
        return e;
    }

    @Override
    public void close() {
        resources.close();
    }
}

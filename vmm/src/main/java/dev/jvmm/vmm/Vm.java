package dev.jvmm.vmm;

import dev.jvmm.core.Bus;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.PciRootBus;
import dev.jvmm.sys.kvm.VmFd;
import dev.jvmm.vmm.boot.BootEntry;
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
    private final BootEntry entry;
    private final ResourceStack resources;
    private final CompletableFuture<VmExit> exit;

    Vm(VmFd vmFd, GuestMemory memory, Bus pio, Bus mmio, PciRootBus pci, List<Vcpu> vcpus, Serial16550 serial,
            BootEntry entry, ResourceStack resources, CompletableFuture<VmExit> exit) {
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

    /** Ends the run from outside (e.g. a signal handler or a test): {@link #run()} returns {@code reason}. */
    public void requestExit(VmExit reason) {
        exit.complete(reason);
    }

    /** Starts every vCPU and waits for the first exit event; the vCPUs are stopped before this returns. */
    public VmExit run() {
        log.debug("starting {} vcpu(s), boot: {}", vcpus.size(), entry.description());
        for (Vcpu v : vcpus) {
            v.start();
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

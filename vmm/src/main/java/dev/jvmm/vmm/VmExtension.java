package dev.jvmm.vmm;

import dev.jvmm.core.AddressAllocator;
import dev.jvmm.core.Bus;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.PciRootBus;
import dev.jvmm.sys.kvm.VmFd;

/**
 * Adds devices to a VM while {@link VmBuilder} builds it: after guest RAM, the platform devices and the PCI root
 * bus exist and before any vCPU is created, so irq routes, irqfds and ioeventfds are in place when the guest
 * starts. This is where virtio-pci and VFIO devices plug in (`--disk`, `--net`, `--device`). Everything an
 * extension opens goes on {@link Context#resources()}, so a failed build or the end of the run closes it, in
 * reverse order, with the rest of the VM.
 */
@FunctionalInterface
public interface VmExtension {
    /** Attaches this extension's devices; throw (a module exception with its reason) to fail the launch. */
    void attach(Context ctx);

    /**
     * What an extension may use. {@code mmio32}/{@code mmio64} hand out BAR space inside the windows the DSDT's
     * PCI0 {@code _CRS} declares; the next free PCI slot on bus 0 is for the extension to choose (slot 0 is the
     * host bridge); INTx of slot S pin P is GSI {@link dev.jvmm.vmm.acpi.AcpiTables#intxGsi(int, int)}.
     */
    record Context(VmFd vm, GuestMemory memory, Bus pio, Bus mmio, PciRootBus pci, AddressAllocator mmio32,
            AddressAllocator mmio64, ResourceStack resources, int cpus) {
    }
}

package dev.jvmm.vmm.devices;

import dev.jvmm.core.AddressAllocator;
import dev.jvmm.core.Bus;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.VmCoreException;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.core.pci.PciBar;
import dev.jvmm.core.pci.PciRootBus;
import dev.jvmm.iommu.IommuException;
import dev.jvmm.iommu.VfioContainer;
import dev.jvmm.iommu.VfioGroup;
import dev.jvmm.irq.IrqRouter;
import dev.jvmm.sys.kvm.VmFd;
import dev.jvmm.vfio.VfioDevice;
import dev.jvmm.vfio.VfioException;
import dev.jvmm.vfio.pci.VfioPciDevice;
import dev.jvmm.vmm.ResourceStack;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.acpi.AcpiTables;
import dev.jvmm.vmm.config.VfioConfig;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plugs the configured VFIO devices ({@code --device vfio=BDF}) into a VM being built: one type1 container for all
 * of them, every guest RAM region DMA-mapped once (IOVA = guest-physical address), each device on the next PCI slot
 * after the virtio devices with its BARs placed in the MMIO32 window after theirs, MSI-X vectors from the VM's
 * {@link IrqRouter}. Close order on the resource stack (reverse of push): devices (slots, MSI-X off, device fds),
 * then the container (UNMAP_DMA of guest RAM, groups, container fd), then guest RAM itself.
 */
public final class VfioDevices {
    private static final Logger log = LoggerFactory.getLogger(VfioDevices.class);
    /** KVM memory slots for BARs: {@link VfioPciDevice#SLOTS} per device from here (guest RAM uses the first few). */
    public static final int FIRST_BAR_SLOT = 32;

    /** One attached device, for logs and tests. */
    public record Attached(String name, String bdf, PciAddress address) {
    }

    private VfioDevices() {
    }

    /**
     * @param firstPciSlot the first free slot on bus 0
     * @param mmio32       the VM's allocator for the MMIO32 window (the virtio BARs are already taken from it)
     */
    public static List<Attached> attach(List<VfioConfig> devices, VmFd vm, GuestMemory memory, Bus mmio,
            PciRootBus pci, IrqRouter router, int firstPciSlot, AddressAllocator mmio32, ResourceStack res) {
        List<Attached> out = new ArrayList<>();
        if (devices.isEmpty()) {
            return out;
        }
        VfioContainer container;
        try {
            container = res.push(VfioContainer.open());
        } catch (IommuException e) {
            throw new VmmException(VmmException.Reason.HOST, "--device vfio: " + e.getMessage(), e);
        }
        for (VfioConfig c : devices) {
            try {
                container.groupFor(c.bdf()); // every group attached before the DMA mappings
            } catch (IommuException e) {
                throw new VmmException(VmmException.Reason.HOST, "--device vfio=" + c.bdf() + ": " + e.getMessage(), e);
            }
        }
        try {
            for (GuestMemory.Region r : memory.regions()) {
                container.map(r.hostAddress(), r.guestPhysAddr(), r.size());
            }
        } catch (IommuException e) {
            throw new VmmException(VmmException.Reason.HOST, "--device vfio: guest RAM for device DMA: " + e.getMessage(), e);
        }
        log.info("vfio: {} MiB of guest RAM mapped for device DMA ({} region(s))", memory.size() >> 20,
                memory.regions().size());
        int slot = firstPciSlot;
        for (int i = 0; i < devices.size(); i++) {
            String bdf = devices.get(i).bdf();
            String name = "vfio-" + i;
            if (slot > 31) {
                throw new VmmException(VmmException.Reason.CONFIG, "--device vfio=" + bdf + ": no free slot on PCI bus 0");
            }
            VfioPciDevice d;
            try {
                VfioGroup g = container.groupFor(bdf);
                VfioDevice dev = VfioDevice.open(g, bdf);
                int pciSlot = slot;
                d = res.push(new VfioPciDevice(name, dev, router, mmio, vm::setUserMemoryRegion,
                        FIRST_BAR_SLOT + VfioPciDevice.SLOTS * i, pin -> AcpiTables.intxGsi(pciSlot, pin)));
            } catch (IommuException | VfioException e) {
                throw new VmmException(VmmException.Reason.HOST, "--device vfio=" + bdf + ": " + e.getMessage(), e);
            }
            for (PciBar b : d.bars()) {
                if (!b.isMemory()) {
                    continue; // I/O BARs stay unassigned; the guest driver may assign them
                }
                long at;
                try {
                    at = mmio32.allocate(b.size(), b.size());
                } catch (VmCoreException e) {
                    throw new VmmException(VmmException.Reason.CONFIG, "--device vfio=" + bdf + ": BAR" + b.index()
                            + " (0x" + Long.toHexString(b.size()) + " bytes) does not fit the MMIO32 window", e);
                }
                d.setBarAddress(b.index(), at);
            }
            PciAddress address = pci.add(d, slot++, 0);
            res.push(() -> pci.remove(address));
            out.add(new Attached(name, bdf, address));
            log.info("{} at {}: host {}", name, address, bdf);
        }
        return out;
    }
}

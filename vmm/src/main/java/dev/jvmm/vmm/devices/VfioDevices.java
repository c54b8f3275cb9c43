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
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.pci.IommuGroups;
import dev.jvmm.sys.pci.PciException;
import dev.jvmm.sys.kvm.KvmDevice;
import dev.jvmm.sys.kvm.VmFd;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
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

    /** The ports I/O BARs are placed in (inside the host bridge's I/O window, above the legacy devices). */
    static final long IO_START = 0xc000;
    static final long IO_SIZE = 0x4000;

    /** One attached device, for logs and tests. */
    public record Attached(String name, String bdf, PciAddress address) {
    }

    private VfioDevices() {
    }

    /**
     * @param firstPciSlot the first free slot on bus 0
     * @param mmio32       the VM's allocator for the MMIO32 window (the virtio BARs are already taken from it)
     */
    public static List<Attached> attach(List<VfioConfig> devices, VmFd vm, GuestMemory memory, Bus pio, Bus mmio,
            PciRootBus pci, IrqRouter router, int firstPciSlot, AddressAllocator mmio32, ResourceStack res) {
        List<Attached> out = new ArrayList<>();
        if (devices.isEmpty()) {
            return out;
        }
        res.push(VfioDevices::logLockedMemory); // closed last: after the container has unmapped guest RAM
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
        kvmVfioDevice(vm, container, res);
        try {
            for (GuestMemory.Region r : memory.regions()) {
                container.map(r.hostAddress(), r.guestPhysAddr(), r.size());
            }
        } catch (IommuException e) {
            throw new VmmException(VmmException.Reason.HOST, "--device vfio: guest RAM for device DMA: " + e.getMessage(), e);
        }
        log.info("vfio: {} MiB of guest RAM mapped for device DMA ({} region(s)), IOVA ranges of the IOMMU: {}",
                memory.size() >> 20, memory.regions().size(), container.iovaRanges());
        AddressAllocator io = new AddressAllocator("io", IO_START, IO_SIZE);
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
                d = res.push(new VfioPciDevice(name, dev, new VfioPciDevice.Placement(router, mmio, pio,
                        vm::setUserMemoryRegion, FIRST_BAR_SLOT + VfioPciDevice.SLOTS * i,
                        pin -> AcpiTables.intxGsi(pciSlot, pin)), devices.get(i).msix()));
            } catch (IommuException | VfioException e) {
                throw new VmmException(VmmException.Reason.HOST, "--device vfio=" + bdf + ": " + e.getMessage(), e);
            }
            // placed as firmware would: memory BARs and the ROM in the MMIO32 window, I/O BARs in the I/O window
            for (PciBar b : d.bars()) {
                AddressAllocator window = b.isMemory() ? mmio32 : io;
                d.setBarAddress(b.index(), place(window, b.size(), bdf, "BAR" + b.index()));
            }
            if (d.romSize() > 0) {
                d.setRomAddress(place(mmio32, d.romSize(), bdf, "expansion ROM"));
            }
            PciAddress address = pci.add(d, slot++, 0);
            res.push(() -> pci.remove(address));
            out.add(new Attached(name, bdf, address));
            log.info("{} at {}: host {}", name, address, bdf);
        }
        return out;
    }

    /**
     * Checks, from sysfs alone, that every device can be passed through: it exists, has an IOMMU group, is bound to
     * vfio-pci and its group is viable. The error names the device and what is in the way.
     */
    public static void preflight(List<VfioConfig> devices) {
        if (devices.isEmpty()) {
            return;
        }
        log.info("vfio: IOMMU interface: {}", iommuInterface(devices, java.nio.file.Path.of("/dev/iommu")));
        IommuGroups groups = IommuGroups.system();
        for (VfioConfig c : devices) {
            try {
                groups.requireVfioReady(PciAddress.parse(c.bdf()));
            } catch (PciException e) {
                throw new VmmException(VmmException.Reason.HOST, "--device vfio=" + c.bdf() + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * The IOMMU interface the devices get, with the reason: type1. iommufd is taken only when asked for by
     * {@code iommu=iommufd}, and then refused with the reason, because jvmm has no iommufd backend yet: no kernel
     * the lab can run (Debian's, up to 7.3) is built with {@code CONFIG_IOMMUFD}, so one could not be proven.
     */
    public static String iommuInterface(List<VfioConfig> devices, java.nio.file.Path devIommu) {
        VfioConfig.Iommu want = devices.stream().map(VfioConfig::iommu).filter(i -> i != VfioConfig.Iommu.AUTO)
                .findFirst().orElse(VfioConfig.Iommu.AUTO);
        boolean present = java.nio.file.Files.exists(devIommu);
        return switch (want) {
            case TYPE1 -> "type1 (iommu=type1)";
            case AUTO -> "type1 (auto: " + (present ? devIommu + " exists, but jvmm has no iommufd backend yet"
                    : devIommu + " is missing: the kernel has no iommufd") + ")";
            case IOMMUFD -> throw new VmmException(VmmException.Reason.HOST, "--device vfio: iommu=iommufd: " + (present
                    ? "jvmm has no iommufd backend yet; use iommu=type1 (or auto)"
                    : devIommu + " is missing: this kernel has no iommufd (CONFIG_IOMMUFD; Debian's kernels do "
                    + "not enable it); use iommu=type1 (or auto)"));
        };
    }

    /** The process's locked memory once VFIO has let go of guest RAM: 0 kB unless something is still pinned. */
    private static void logLockedMemory() {
        try {
            for (String l : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (l.startsWith("VmLck:")) {
                    log.info("vfio: after unmapping, {}", l.replaceAll("\\s+", " "));
                }
            }
        } catch (java.io.IOException e) {
            log.debug("vfio: /proc/self/status: {}", e.toString());
        }
    }

    private static long place(AddressAllocator window, long size, String bdf, String what) {
        try {
            return window.allocate(size, size);
        } catch (VmCoreException e) {
            throw new VmmException(VmmException.Reason.CONFIG, "--device vfio=" + bdf + ": " + what + " (0x"
                    + Long.toHexString(size) + " bytes) does not fit the " + window.name() + " window", e);
        }
    }

    /**
     * The KVM-VFIO pseudo device, with every group added (as QEMU and Cloud Hypervisor do): KVM learns which VFIO
     * groups the VM uses, which it needs where DMA is not cache-coherent (it then honours the guest's WBINVD) and
     * for some platforms' interrupt bypass. The groups are taken off it before the container closes.
     */
    private static void kvmVfioDevice(VmFd vm, VfioContainer container, ResourceStack res) {
        try {
            KvmDevice kv = res.push(vm.createDevice(KvmConstants.KVM_DEV_TYPE_VFIO));
            for (VfioGroup g : container.attachedGroups()) {
                kv.setAttrInt(KvmConstants.KVM_DEV_VFIO_GROUP, KvmConstants.KVM_DEV_VFIO_GROUP_ADD, g.fd(),
                        "KVM_DEV_VFIO_GROUP_ADD group " + g.id());
                res.push(() -> kv.setAttrInt(KvmConstants.KVM_DEV_VFIO_GROUP, KvmConstants.KVM_DEV_VFIO_GROUP_DEL,
                        g.fd(), "KVM_DEV_VFIO_GROUP_DEL group " + g.id()));
            }
        } catch (ErrnoException e) {
            throw new VmmException(VmmException.Reason.HOST, "--device vfio: the KVM-VFIO device: " + e.getMessage()
                    + " (a kvm module built without VFIO support?)", e);
        }
        log.info("vfio: KVM-VFIO device with IOMMU group(s) {}", container.attachedGroups().stream()
                .map(g -> Integer.toString(g.id())).collect(java.util.stream.Collectors.joining(", ")));
    }
}

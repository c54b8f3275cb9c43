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
import dev.jvmm.probe.PostedInterrupts;
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
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VM's VFIO side: one type1 container for every passed-through function, opened with the first device (then
 * every guest RAM region is DMA-mapped once, IOVA = guest-physical address, and the KVM-VFIO device is created)
 * and closed with the last (guest RAM unmapped, groups and container closed), so a VM whose last VFIO device was
 * hot-removed holds no DMA mapping. Each device gets the slot {@link DeviceManager} gives it, its BARs placed in
 * the MMIO32 window (I/O BARs in the I/O window) and MSI-X vectors from the VM's {@link IrqRouter}. A device's
 * own stack closes, in reverse: its slot, the device (memory slots, MSI-X off, device fd), its BAR space, then its
 * reference on the container (its group leaves the container when no other device uses it).
 */
public final class VfioDevices implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VfioDevices.class);
    /** KVM memory slots for BARs: {@link VfioPciDevice#SLOTS} per device from here (guest RAM uses the first few). */
    public static final int FIRST_BAR_SLOT = 32;
    /** Passed-through functions a VM can hold at once (KVM memory slots reserved for their BARs). */
    public static final int MAX_DEVICES = 32;

    /** The ports I/O BARs are placed in (inside the host bridge's I/O window, above the legacy devices). */
    static final long IO_START = 0xc000;
    static final long IO_SIZE = 0x4000;

    /** One attached device, for logs and tests. */
    public record Attached(String name, String bdf, PciAddress address, VfioPciDevice device) {
    }

    private final VmFd vm;
    private final GuestMemory memory;
    private final Bus pio;
    private final Bus mmio;
    private final IrqRouter router;
    private final AddressAllocator io = new AddressAllocator("io", IO_START, IO_SIZE);
    private final java.util.BitSet slotBlocks = new java.util.BitSet(MAX_DEVICES);
    /** The groups in the container, with how many attached devices use each. */
    private final java.util.Map<Integer, Integer> groupUsers = new java.util.HashMap<>();
    private final java.util.Map<Integer, VfioGroup> groups = new java.util.LinkedHashMap<>();
    /** The container and what hangs off it; null while no device is attached. */
    private ResourceStack context;
    private VfioContainer container;
    private KvmDevice kvmVfio;

    public VfioDevices(VmFd vm, GuestMemory memory, Bus pio, Bus mmio, IrqRouter router) {
        this.vm = vm;
        this.memory = memory;
        this.pio = pio;
        this.mmio = mmio;
        this.router = router;
    }

    /**
     * Passes {@code c.bdf()} through at PCI {@code slot}, placing its BARs from {@code mmio32} (and the I/O window);
     * everything goes on {@code res}, the device's own stack. The device must have passed {@link #preflight}.
     */
    public synchronized Attached attach(String name, VfioConfig c, int slot, AddressAllocator mmio32, PciRootBus pci,
            ResourceStack res) {
        String bdf = c.bdf();
        int block = slotBlocks.nextClearBit(0);
        if (block >= MAX_DEVICES) {
            throw new VmmException(VmmException.Reason.CONFIG, "--device vfio=" + bdf + ": a VM holds at most "
                    + MAX_DEVICES + " passed-through functions");
        }
        VfioGroup g = use(bdf, res);
        slotBlocks.set(block);
        res.push(() -> slotBlocks.clear(block));
        VfioPciDevice d;
        try {
            VfioDevice dev = VfioDevice.open(g, bdf);
            d = res.push(new VfioPciDevice(name, dev, new VfioPciDevice.Placement(router, mmio, pio,
                    vm::setUserMemoryRegion, FIRST_BAR_SLOT + VfioPciDevice.SLOTS * block,
                    pin -> AcpiTables.intxGsi(slot, pin)), c.msix()));
        } catch (IommuException | VfioException e) {
            throw new VmmException(VmmException.Reason.HOST, "--device vfio=" + bdf + ": " + e.getMessage(), e);
        }
        // placed as firmware would: memory BARs and the ROM in the MMIO32 window, I/O BARs in the I/O window
        for (PciBar b : d.bars()) {
            AddressAllocator window = b.isMemory() ? mmio32 : io;
            d.setBarAddress(b.index(), place(window, b.size(), bdf, "BAR" + b.index(), res));
        }
        if (d.romSize() > 0) {
            d.setRomAddress(place(mmio32, d.romSize(), bdf, "expansion ROM", res));
        }
        PciAddress address = pci.add(d, slot, 0);
        res.push(() -> pci.remove(address));
        log.info("{} at {}: host {}", name, address, bdf);
        return new Attached(name, bdf, address, d);
    }

    /** The group of {@code bdf} in the container (opened with the first device); released by {@code res}. */
    private VfioGroup use(String bdf, ResourceStack res) {
        if (container == null) {
            open();
        }
        VfioGroup g;
        try {
            g = container.groupFor(bdf);
        } catch (IommuException e) {
            if (groupUsers.isEmpty()) {
                closeContext();
            }
            throw new VmmException(VmmException.Reason.HOST, "--device vfio=" + bdf + ": " + e.getMessage(), e);
        }
        int id = g.id();
        if (groupUsers.merge(id, 1, Integer::sum) == 1) {
            groups.put(id, g);
            try {
                kvmGroup(KvmConstants.KVM_DEV_VFIO_GROUP_ADD, g);
                if (container.mappings().isEmpty()) {
                    mapGuestRam(); // with the first group (type1 maps nothing before); later groups get them replayed
                }
            } catch (RuntimeException e) {
                release(g);
                throw e;
            }
        }
        res.push(() -> release(g));
        return g;
    }

    private synchronized void release(VfioGroup g) {
        int id = g.id();
        int left = groupUsers.merge(id, -1, Integer::sum);
        if (left > 0) {
            return;
        }
        groupUsers.remove(id);
        groups.remove(id);
        kvmGroup(KvmConstants.KVM_DEV_VFIO_GROUP_DEL, g);
        if (groupUsers.isEmpty()) {
            closeContext(); // the last device: guest RAM unmapped, container closed
            return;
        }
        container.detach(id);
    }

    /** Opens the container and the KVM-VFIO device, for the first device; groups are added by {@link #use}. */
    private void open() {
        ResourceStack ctx = new ResourceStack();
        try {
            ctx.push(VfioDevices::logLockedMemory); // closed last: after the container has unmapped guest RAM
            try {
                container = ctx.push(VfioContainer.open());
            } catch (IommuException e) {
                throw new VmmException(VmmException.Reason.HOST, "--device vfio: " + e.getMessage(), e);
            }
            try {
                kvmVfio = ctx.push(vm.createDevice(KvmConstants.KVM_DEV_TYPE_VFIO));
            } catch (ErrnoException e) {
                throw new VmmException(VmmException.Reason.HOST, "--device vfio: the KVM-VFIO device: " + e.getMessage()
                        + " (a kvm module built without VFIO support?)", e);
            }
            context = ctx;
        } catch (RuntimeException e) {
            container = null;
            kvmVfio = null;
            ctx.close();
            throw e;
        }
    }

    /** Maps guest RAM for device DMA once the container has its first group (type1 needs one to map). */
    private void mapGuestRam() {
        try {
            for (GuestMemory.Region r : memory.regions()) {
                container.map(r.hostAddress(), r.guestPhysAddr(), r.size());
            }
        } catch (IommuException e) {
            throw new VmmException(VmmException.Reason.HOST, "--device vfio: guest RAM for device DMA: " + e.getMessage(), e);
        }
        log.info("vfio: {} MiB of guest RAM mapped for device DMA ({} region(s)), IOVA ranges of the IOMMU: {}",
                memory.size() >> 20, memory.regions().size(), container.iovaRanges());
    }

    private void closeContext() {
        ResourceStack ctx = context;
        if (ctx == null) {
            return;
        }
        for (VfioGroup g : groups.values()) {
            kvmGroup(KvmConstants.KVM_DEV_VFIO_GROUP_DEL, g);
        }
        groups.clear();
        groupUsers.clear();
        context = null;
        container = null;
        kvmVfio = null;
        ctx.close(); // the KVM-VFIO device, the container (guest RAM unmapped, groups closed), then VmLck logged
    }

    /**
     * The KVM-VFIO pseudo device learns every group the VM uses (as QEMU and Cloud Hypervisor do): KVM needs it where
     * DMA is not cache-coherent (it then honours the guest's WBINVD) and for some platforms' interrupt bypass.
     */
    private void kvmGroup(int attr, VfioGroup g) {
        boolean add = attr == KvmConstants.KVM_DEV_VFIO_GROUP_ADD;
        String what = (add ? "KVM_DEV_VFIO_GROUP_ADD" : "KVM_DEV_VFIO_GROUP_DEL") + " group " + g.id();
        try {
            kvmVfio.setAttrInt(KvmConstants.KVM_DEV_VFIO_GROUP, attr, g.fd(), what);
        } catch (ErrnoException e) {
            if (add) {
                throw new VmmException(VmmException.Reason.HOST, "--device vfio: the KVM-VFIO device: " + e.getMessage(), e);
            }
            log.warn("vfio: {}: {}", what, e.getMessage());
            return;
        }
        log.info("vfio: {}", what);
    }

    /** Closes the container if a device is still attached (the VM's end; each device's stack normally did it). */
    @Override
    public synchronized void close() {
        closeContext();
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
        log.info("vfio: {}", interruptBypass());
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

    /**
     * Whether the devices' interrupts can bypass the VMM on this host, as {@code jvmm probe} decides it (check
     * {@value PostedInterrupts#CHECK_ID}): one line for the launch log. A probe that fails says so; it never stops a
     * launch.
     */
    static String interruptBypass() {
        try {
            return PostedInterrupts.host().line();
        } catch (RuntimeException e) {
            return "device interrupts bypass the VMM: unknown (the probe failed: " + e + ")";
        }
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

    private static long place(AddressAllocator window, long size, String bdf, String what, ResourceStack res) {
        try {
            long at = window.allocate(size, size);
            res.push(() -> window.free(at));
            return at;
        } catch (VmCoreException e) {
            throw new VmmException(VmmException.Reason.CONFIG, "--device vfio=" + bdf + ": " + what + " (0x"
                    + Long.toHexString(size) + " bytes) does not fit the " + window.name() + " window", e);
        }
    }

}

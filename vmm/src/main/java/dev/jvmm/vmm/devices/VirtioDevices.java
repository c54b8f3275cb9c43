package dev.jvmm.vmm.devices;

import dev.jvmm.core.AddressAllocator;
import dev.jvmm.core.Bus;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.VmCoreException;
import dev.jvmm.core.pci.PciRootBus;
import dev.jvmm.irq.IrqRouter;
import dev.jvmm.sys.kvm.VmFd;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.tun.TapDevice;
import dev.jvmm.virtio.VirtioDevice;
import dev.jvmm.virtio.VirtioException;
import dev.jvmm.virtio.blk.BlockBackend;
import dev.jvmm.virtio.blk.VirtioBlk;
import dev.jvmm.virtio.net.VirtioNet;
import dev.jvmm.virtio.pci.IoeventfdSink;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import dev.jvmm.vmm.ResourceStack;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.acpi.AcpiTables;
import dev.jvmm.vmm.config.DiskConfig;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.VmConfig;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plugs the configured virtio-blk and virtio-net devices into a VM being built: each gets a slot on the PCI root
 * bus (disks first, then NICs, from slot 1), BAR0 placed in the MMIO32 window as firmware would (the guest may move
 * it: the MMIO bus registration and the notify ioeventfds follow), its MSI-X vectors from the VM's
 * {@link IrqRouter} (irqfds), its doorbells as KVM ioeventfds, and INTx on the GSI the DSDT's _PRT gives the slot.
 * Everything (router, backends, TAPs, eventfds, registrations, device threads) goes on the VM's
 * {@link ResourceStack}, so a failed launch — a bad disk path, a TAP that cannot be created — leaves nothing behind.
 */
public final class VirtioDevices {
    private static final Logger log = LoggerFactory.getLogger(VirtioDevices.class);
    /** The first PCI slot used for virtio devices (00:00.0 is the host bridge). */
    public static final int FIRST_SLOT = 1;

    /** One attached device, for logs, tests and the demo. */
    public record Attached(String name, PciAddress address, long bar0, VirtioPciDevice transport) {
    }

    private VirtioDevices() {
    }

    /**
     * Attaches every device of {@code cfg}; returns them in slot order (empty when the config has none, and then
     * nothing is created). Each BAR0 is taken from {@code mmio32}, the VM's allocator for the MMIO32 window the
     * DSDT's _CRS declares (VFIO devices and extensions allocate from it after these).
     *
     * @param shared the VM's one {@link IrqRouter} when the caller shares it with other devices (VFIO); null
     *               creates one when there are virtio devices
     */
    public static List<Attached> attach(VmConfig cfg, VmFd vm, GuestMemory memory, Bus mmio, PciRootBus pci,
            AddressAllocator mmio32, ResourceStack res, IrqRouter shared) {
        List<Attached> out = new ArrayList<>();
        if (cfg.disks().isEmpty() && cfg.nets().isEmpty()) {
            return out;
        }
        if (cfg.disks().size() + cfg.nets().size() > 31 - FIRST_SLOT + 1) {
            throw new VmmException(VmmException.Reason.CONFIG, "too many virtio devices: "
                    + (cfg.disks().size() + cfg.nets().size()) + " (at most " + (32 - FIRST_SLOT) + " on PCI bus 0)");
        }
        IrqRouter router = shared != null ? shared : res.push(new IrqRouter(vm));
        IoeventfdSink doorbells = (efd, address, len) -> router.ioeventfd(efd, address, len, null, false);
        int slot = FIRST_SLOT;
        for (int i = 0; i < cfg.disks().size(); i++) {
            DiskConfig d = cfg.disks().get(i);
            String origin = "--disk " + d.path();
            BlockBackend backend;
            try {
                backend = res.push(BlockBackend.open(d.path().toString(), d.readOnly(), d.cache()));
            } catch (VirtioException e) {
                throw new VmmException(VmmException.Reason.CONFIG, origin + ": " + e.getMessage(), e);
            }
            VirtioBlk blk = new VirtioBlk("virtio-blk-" + i, backend, d.queues(), d.id());
            Attached a = plug(blk, slot++, bar0(mmio32), router, doorbells, memory, mmio, pci, res);
            out.add(a);
            log.info("{} at {}: {} ({} MiB, cache={}{}, {} queue(s))", a.name(), a.address(), d.path(),
                    backend.size() >> 20, d.cache(), d.readOnly() ? ", read-only" : "", d.queues());
        }
        for (int i = 0; i < cfg.nets().size(); i++) {
            NetConfig n = cfg.nets().get(i);
            byte[] mac = n.mac() != null ? n.mac() : NetConfig.defaultMac(i);
            TapDevice tap = NetBackends.open(n, i, mac, res, n.what());
            VirtioNet net = new VirtioNet("virtio-net-" + i, tap, mac, n.queues());
            Attached a = plug(net, slot++, bar0(mmio32), router, doorbells, memory, mmio, pci, res);
            out.add(a);
            log.info("{} at {}: tap {} ({}), mac {}, {} queue pair(s)", a.name(), a.address(), tap.name(),
                    tap.created() ? "created" : "existing", NetConfig.format(mac), n.queues());
        }
        return out;
    }

    private static long bar0(AddressAllocator mmio32) {
        try {
            return mmio32.allocate(VirtioPciDevice.BAR_SIZE, VirtioPciDevice.BAR_SIZE);
        } catch (VmCoreException e) {
            throw new VmmException(VmmException.Reason.INTERNAL, "virtio BARs overflow the MMIO32 window", e);
        }
    }

    private static Attached plug(VirtioDevice device, int slot, long bar, IrqRouter router, IoeventfdSink doorbells,
            GuestMemory memory, Bus mmio, PciRootBus pci, ResourceStack res) {
        VirtioPciDevice t;
        try {
            t = new VirtioPciDevice(device, memory, router, doorbells, AcpiTables.intxGsi(slot, 0));
        } catch (RuntimeException e) {
            device.close(); // the device owns its backend or TAP; the stack also holds them (close is idempotent)
            throw e;
        }
        res.push(t);
        String name = device.name();
        // BAR0 follows the guest: unregister at the old place, register at the new one (-1: not decoded)
        t.setBarListener((f, b, oldAddress, newAddress) -> {
            if (b.index() != 0) {
                return;
            }
            if (oldAddress >= 0) {
                mmio.unregister(oldAddress);
            }
            if (newAddress >= 0) {
                mmio.register(newAddress, VirtioPciDevice.BAR_SIZE, t.bar0(), name + "-bar0");
            }
            log.debug("{}: BAR0 0x{} -> 0x{}", name, Long.toHexString(oldAddress), Long.toHexString(newAddress));
        });
        t.setBarAddress(0, bar);
        PciAddress address = pci.add(t, slot, 0);
        res.push(() -> pci.remove(address));
        return new Attached(name, address, bar, t);
    }
}

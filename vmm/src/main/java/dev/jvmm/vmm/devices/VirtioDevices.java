package dev.jvmm.vmm.devices;

import dev.jvmm.core.AddressAllocator;
import dev.jvmm.core.Bus;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.VmCoreException;
import dev.jvmm.core.pci.PciRootBus;
import dev.jvmm.irq.IrqRouter;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.tun.TapDevice;
import dev.jvmm.sys.vhost.VhostFd;
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
import dev.jvmm.vmm.config.VsockConfig;
import dev.jvmm.vmm.config.RngConfig;
import dev.jvmm.vmm.config.VirtioConsoleConfig;
import dev.jvmm.virtio.console.PortEnd;
import dev.jvmm.virtio.console.VirtioConsole;
import dev.jvmm.virtio.rng.VirtioRng;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plugs virtio-blk and virtio-net devices into a VM, at build time or hot: each gets the slot on the PCI root bus
 * that {@link DeviceManager} gives it, BAR0 placed in the MMIO32 window as firmware would (the guest may move
 * it: the MMIO bus registration and the notify ioeventfds follow), its MSI-X vectors from the VM's
 * {@link IrqRouter} (irqfds), its doorbells as KVM ioeventfds, and INTx on the GSI the DSDT's _PRT gives the slot.
 * Everything (backend, TAP, eventfds, registrations, device thread, BAR space, the slot) goes on the device's own
 * {@link ResourceStack}, so a failed plug — a bad disk path, a TAP that cannot be created — leaves nothing behind,
 * and closing the stack unplugs the device.
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

    /** What plugging a virtio device needs from the VM: its RAM, MMIO bus, root bus, BAR window and router. */
    public record Env(GuestMemory memory, Bus mmio, PciRootBus pci, AddressAllocator mmio32, IrqRouter router) {
        IoeventfdSink doorbells() {
            return (efd, address, len) -> router.ioeventfd(efd, address, len, null, false);
        }
    }

    /**
     * Plugs a virtio-blk disk in at {@code slot}. Everything it opens goes on {@code res} (the device's own stack:
     * closing it takes the device off the bus and frees its BAR, vectors, ioeventfds, thread and backend).
     */
    public static Attached disk(String name, DiskConfig d, int slot, Env env, ResourceStack res) {
        return disk(name, d, slot, -1, env, res);
    }

    /** As {@link #disk(String, DiskConfig, int, Env, ResourceStack)}, BAR0 at {@code barAt} (-1: allocated). */
    public static Attached disk(String name, DiskConfig d, int slot, long barAt, Env env, ResourceStack res) {
        String origin = "--disk " + d.path();
        BlockBackend backend;
        try {
            backend = res.push(BlockBackend.open(d.path().toString(), d.readOnly(), d.cache(), d.format()));
        } catch (VirtioException e) {
            throw new VmmException(VmmException.Reason.CONFIG, origin + ": " + e.getMessage(), e);
        }
        VirtioBlk blk = new VirtioBlk(name, backend, d.queues(), d.id(), d.aio());
        Attached a = plug(blk, slot, barAt, env, res);
        log.info("{} at {}: {} ({}, {} MiB, cache={}{}, {} queue(s), aio={}{})", a.name(), a.address(), d.path(),
                backend.image() != null ? backend.image() : "raw", backend.size() >> 20, d.cache(), d.readOnly() ? ", read-only" : "", d.queues(), blk.aio(),
                blk.aioReason() == null ? "" : " (io_uring: " + blk.aioReason() + ")");
        return a;
    }

    /**
     * Plugs a virtio-net NIC in at {@code slot}, on its TAP or macvtap ({@code index} names a macvtap jvmm creates);
     * everything goes on {@code res} as for {@link #disk}. {@code standby} non-null makes it the standby of a
     * failover pair: it offers VIRTIO_NET_F_STANDBY and runs {@code standby} when a driver negotiated it.
     */
    public static Attached net(String name, NetConfig n, int index, byte[] mac, int slot, Env env, ResourceStack res,
            Runnable standby) {
        return net(name, n, index, mac, slot, -1, env, res, standby);
    }

    /** As {@link #net(String, NetConfig, int, byte[], int, Env, ResourceStack, Runnable)}, BAR0 at {@code barAt}. */
    public static Attached net(String name, NetConfig n, int index, byte[] mac, int slot, long barAt, Env env,
            ResourceStack res, Runnable standby) {
        // a restored NIC (barAt given) may find its MAC still up on a macvtap of the migration's source
        TapDevice tap = NetBackends.open(n, index, mac, res, n.what(), barAt >= 0);
        VirtioNet net = new VirtioNet(name, tap, mac, n.queues());
        if (standby != null) {
            net.setStandby(standby);
        }
        DataPlane plane = dataPlane(n, VhostFd.DEV_VHOST_NET);
        if (plane.vhost() != null) {
            net.setVhost(plane.vhost());
        }
        Attached a = plug(net, slot, barAt, env, res);
        log.info("{} at {}: tap {} ({}), mac {}, {} queue pair(s), {}{}", a.name(), a.address(), tap.name(),
                tap.created() ? "created" : "existing", NetConfig.format(mac), n.queues(), plane.description(),
                standby != null ? ", failover standby" : "");
        return a;
    }

    /**
     * Plugs a virtio-vsock device in at {@code slot} (BAR0 at {@code barAt}, -1: allocated), its rx and tx rings served
     * by the host's vhost-vsock: {@code /dev/vhost-vsock} is opened and the guest's CID taken here, so a missing module
     * or a CID another VM holds fails the launch, naming the remedy. Everything goes on {@code res} as for {@link #disk}.
     */
    public static Attached vsock(String name, VsockConfig v, int slot, long barAt, Env env, ResourceStack res) {
        dev.jvmm.virtio.vhost.VhostVsock backend;
        try {
            backend = res.push(dev.jvmm.virtio.vhost.VhostVsock.open(name, v.cid()));
        } catch (dev.jvmm.sys.ErrnoException e) {
            boolean inUse = e.errno() == dev.jvmm.sys.Errno.EADDRINUSE;
            throw new VmmException(inUse ? VmmException.Reason.CONFLICT : VmmException.Reason.HOST, v.what() + ": "
                    + (inUse ? "CID " + v.cid() + " is in use by another VM on this host (pick another cid): " : "")
                    + e.getMessage(), e);
        }
        Attached a = plug(new dev.jvmm.virtio.vsock.VirtioVsock(name, backend), slot, barAt, env, res);
        log.info("{} at {}: vsock, guest cid {} (vhost-vsock)", a.name(), a.address(), v.cid());
        return a;
    }

    /**
     * Plugs a virtio-rng in at {@code slot} (BAR0 at {@code barAt}, -1: allocated), reading {@code r.source()}; a
     * source that cannot be opened fails the plug naming it. Everything goes on {@code res} as for {@link #disk}.
     */
    public static Attached rng(String name, RngConfig r, int slot, long barAt, Env env, ResourceStack res) {
        VirtioRng rng;
        try {
            rng = res.push(new VirtioRng(name, r.source().toString(), r.maxBytes(),
                    java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(r.periodMs())));
        } catch (VirtioException e) {
            throw new VmmException(VmmException.Reason.CONFIG, "--rng: " + e.getMessage(), e);
        }
        Attached a = plug(rng, slot, barAt, env, res);
        log.info("{} at {}: entropy from {}{}", a.name(), a.address(), r.source(), r.limited()
                ? " (at most " + r.maxBytes() + " bytes per " + r.periodMs() + " ms)" : "");
        return a;
    }

    /**
     * Plugs a virtio-balloon in at {@code slot} (BAR0 at {@code barAt}, -1: allocated) for a guest of {@code ramBytes};
     * everything goes on {@code res} as for {@link #disk}.
     */
    public static Attached balloon(String name, dev.jvmm.vmm.config.BalloonConfig b, long ramBytes, int slot, long barAt,
            Env env, ResourceStack res) {
        dev.jvmm.virtio.balloon.VirtioBalloon dev = new dev.jvmm.virtio.balloon.VirtioBalloon(name, ramBytes, b.size(),
                b.freePageReporting(), b.deflateOnOom(), b.statsSeconds());
        Attached a = plug(dev, slot, barAt, env, res);
        log.info("{} at {}: balloon, target {} MiB{}{}{}", a.name(), a.address(), b.size() >> 20,
                b.freePageReporting() ? ", free page reporting" : "", b.deflateOnOom() ? ", deflate on OOM" : "",
                b.statsSeconds() > 0 ? ", stats every " + b.statsSeconds() + " s" : "");
        return a;
    }

    /**
     * Plugs a virtio-console in at {@code slot} on the host ends {@code ends} (port 0's, null for none, then each
     * named port's: {@link dev.jvmm.vmm.Console#virtioPorts}, which owns them). Everything else goes on {@code res}.
     */
    public static Attached console(String name, VirtioConsoleConfig c, List<PortEnd> ends, int slot, long barAt, Env env,
            ResourceStack res) {
        List<VirtioConsole.NamedPort> named = new java.util.ArrayList<>();
        for (int i = 0; i < c.ports().size(); i++) {
            named.add(new VirtioConsole.NamedPort(c.ports().get(i).name(), ends.get(i + 1)));
        }
        VirtioConsole con = res.push(new VirtioConsole(name, ends.get(0), named));
        Attached a = plug(con, slot, barAt, env, res);
        StringBuilder b = new StringBuilder();
        if (ends.get(0) != null) {
            b.append("hvc0 on ").append(ends.get(0));
        }
        for (int i = 0; i < named.size(); i++) {
            b.append(b.length() == 0 ? "" : ", ").append("port ").append(i + 1).append(" \"")
                    .append(named.get(i).name()).append("\" on ").append(named.get(i).end());
        }
        log.info("{} at {}: {}", a.name(), a.address(), b);
        return a;
    }

    /**
     * Which data plane serves a NIC: {@code vhost} opens its vhost-net fds (null: the VMM's own), and
     * {@code description} says which, and why, for the launch log.
     */
    record DataPlane(java.util.function.Supplier<VhostFd> vhost, String description) {
    }

    /**
     * The data plane {@code n.vhost()} asks for, with vhost-net at {@code path} (normally {@link
     * VhostFd#DEV_VHOST_NET}): {@code auto} opens it once to see that it can, {@code on} fails the launch when it
     * cannot, naming why; {@code off} never tries.
     */
    static DataPlane dataPlane(NetConfig n, String path) {
        if (n.vhost() == NetConfig.Vhost.OFF) {
            return new DataPlane(null, "VMM data plane (vhost=off)");
        }
        try (VhostFd probe = VhostFd.open(path)) {
            return new DataPlane(() -> VhostFd.open(path), "vhost-net");
        } catch (RuntimeException e) {
            if (n.vhost() == NetConfig.Vhost.ON) {
                throw new VmmException(VmmException.Reason.HOST, n.what() + ": vhost=on, but " + path
                        + " cannot be opened (load the vhost_net module, or use vhost=off or auto): " + e.getMessage(), e);
            }
            return new DataPlane(null, "VMM data plane (vhost-net unavailable: " + e.getMessage() + ")");
        }
    }

    private static long bar0(AddressAllocator mmio32, long at) {
        try {
            return at >= 0 ? mmio32.allocateAt(at, VirtioPciDevice.BAR_SIZE)
                    : mmio32.allocate(VirtioPciDevice.BAR_SIZE, VirtioPciDevice.BAR_SIZE);
        } catch (VmCoreException e) {
            throw new VmmException(VmmException.Reason.INTERNAL, at >= 0 ? "a restored BAR0: " + e.getMessage()
                    : "virtio BARs overflow the MMIO32 window", e);
        }
    }

    private static Attached plug(VirtioDevice device, int slot, long barAt, Env env, ResourceStack res) {
        long bar = bar0(env.mmio32(), barAt);
        res.push(() -> env.mmio32().free(bar));
        VirtioPciDevice t;
        try {
            t = new VirtioPciDevice(device, env.memory(), env.router(), env.doorbells(), AcpiTables.intxGsi(slot, 0));
        } catch (RuntimeException e) {
            device.close(); // the device owns its backend or TAP; the stack also holds them (close is idempotent)
            throw e;
        }
        res.push(t);
        String name = device.name();
        Bus mmio = env.mmio();
        // BAR0 follows the guest: off the bus at its old place, on at the new one (not where it overlaps)
        Bar0Mapping mapping = res.push(new Bar0Mapping(mmio, VirtioPciDevice.BAR_SIZE, t.bar0(), name));
        t.setBarListener(mapping);
        t.setBarAddress(0, bar);
        PciAddress address = env.pci().add(t, slot, 0);
        res.push(() -> env.pci().remove(address));
        return new Attached(name, address, bar, t);
    }
}

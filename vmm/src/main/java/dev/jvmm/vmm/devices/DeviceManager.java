package dev.jvmm.vmm.devices;

import dev.jvmm.core.AddressAllocator;
import dev.jvmm.core.Bus;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.PciRootBus;
import dev.jvmm.irq.IrqRouter;
import dev.jvmm.sys.kvm.VmFd;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import dev.jvmm.vfio.pci.VfioPciDevice;
import dev.jvmm.vmm.ResourceStack;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.DiskConfig;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.VsockConfig;
import dev.jvmm.vmm.config.RngConfig;
import dev.jvmm.vmm.config.VirtioConsoleConfig;
import dev.jvmm.vmm.config.VfioConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one owner of a VM's PCI devices, at boot and while it runs: slots on root bus 0, BAR space (through the
 * VM's MMIO32 allocator), the VFIO container ({@link VfioDevices}) and each device's own {@link ResourceStack}.
 * The config's devices are plugged in while the VM is built; the control API adds more while it runs (the guest
 * is told through ACPI: {@link PciHotplugController}), and removes any of them cooperatively: jvmm asks the guest
 * to eject the slot, waits for its {@code _EJ0}, and only then frees the device (irqfds, ioeventfds, memory slots,
 * BAR space, the VFIO device and its share of the DMA mappings, the TAP). A guest that does not eject in time gets
 * its request withdrawn, if it has not seen it yet, and the device stays as it was.
 */
public final class DeviceManager implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DeviceManager.class);
    /** The first slot for devices (00:00.0 is the host bridge). */
    public static final int FIRST_SLOT = VirtioDevices.FIRST_SLOT;
    public static final int LAST_SLOT = 31;

    /** Kinds of device, with the prefix of their ids (a saved state names a kind by it). */
    public enum Kind {
        DISK("virtio-blk"), NET("virtio-net"), VFIO("vfio"), RNG("virtio-rng"), CONSOLE("virtio-console"),
        BALLOON("virtio-balloon"), VSOCK("virtio-vsock");

        private final String prefix;

        Kind(String prefix) {
            this.prefix = prefix;
        }

        public String prefix() {
            return prefix;
        }
    }

    /** How the guest is told about slots: ACPI hotplug (null until the platform devices exist). */
    public interface Hotplug {
        void requestAdd(int slot);

        void requestRemove(int slot);

        /** Takes back a removal request the guest has not read yet; false if it has (it may still eject). */
        boolean withdrawRemove(int slot);
    }

    /** One plugged device. {@code what} is its backend (file, TAP, host BDF); {@code transport} or {@code vfio} is set. */
    public static final class Plugged {
        private final String id;
        private final Kind kind;
        private final PciAddress address;
        private final String what;
        private final boolean hot;
        private final VirtioPciDevice transport;
        private final VfioPciDevice vfio;
        private final ResourceStack resources;
        private String nic;
        private volatile CompletableFuture<Void> ejected;
        /**
         * What it was plugged from: a DiskConfig, a NetConfig (with the MAC it got), a VfioConfig, an RngConfig or a
         * VirtioConsoleConfig.
         */
        private Object config;
        /** Where its BAR0 was allocated (virtio), for a saved state; -1 if none. */
        private long bar0 = -1;

        Plugged(String id, Kind kind, PciAddress address, String what, boolean hot, VirtioPciDevice transport,
                VfioPciDevice vfio, ResourceStack resources) {
            this.id = id;
            this.kind = kind;
            this.address = address;
            this.what = what;
            this.hot = hot;
            this.transport = transport;
            this.vfio = vfio;
            this.resources = resources;
        }

        public String id() {
            return id;
        }

        public Kind kind() {
            return kind;
        }

        public PciAddress address() {
            return address;
        }

        public String bdf() {
            return address.toString();
        }

        /** The backend: the disk file, the TAP or macvtap, the host function. */
        public String what() {
            return what;
        }

        /** The {@code --nic} it is (its id), or null. */
        public String nic() {
            return nic;
        }

        /** Whether it was added while the VM ran. */
        public boolean hot() {
            return hot;
        }

        /** The virtio transport of a virtio device, else null. */
        public VirtioPciDevice transport() {
            return transport;
        }

        /** The passed-through function of a VFIO device, else null. */
        public VfioPciDevice vfio() {
            return vfio;
        }

        /** What it was plugged from: a {@link DiskConfig}, a {@link NetConfig} (with its MAC) or a {@link VfioConfig}. */
        public Object config() {
            return config;
        }

        /** Whether a removal was asked for and the guest has not ejected yet. */
        public boolean removing() {
            CompletableFuture<Void> e = ejected;
            return e != null && !e.isDone();
        }
    }

    private final PciRootBus pci;
    private final AddressAllocator mmio32;
    private final VirtioDevices.Env virtio;
    private final VfioDevices vfio;
    private final Map<String, Plugged> devices = new LinkedHashMap<>();
    private final Map<Kind, Integer> nextIndex = new java.util.EnumMap<>(Kind.class);
    private volatile Hotplug hotplug;
    private boolean closed;
    /** Why devices cannot be added or removed now (a migration runs: its destination plugs them as they are), or null. */
    private String frozen;
    /** Failover pairs by NIC id: the standby's device, the primary's (null while none is plugged). */
    private final Map<String, Pair> pairs = new LinkedHashMap<>();
    /** Plugs failover primaries off the vCPU thread that saw STANDBY negotiated; made with the first pair. */
    private java.util.concurrent.ExecutorService failoverThread;

    private static final class Pair {
        final NetConfig.Standby standby;
        final String standbyId;
        String primaryId;
        boolean negotiated;

        Pair(NetConfig.Standby standby, String standbyId) {
            this.standby = standby;
            this.standbyId = standbyId;
        }
    }

    public DeviceManager(VmFd vm, GuestMemory memory, Bus pio, Bus mmio, PciRootBus pci, IrqRouter router,
            AddressAllocator mmio32) {
        this.pci = pci;
        this.mmio32 = mmio32;
        this.virtio = new VirtioDevices.Env(memory, mmio, pci, mmio32, router);
        this.vfio = new VfioDevices(vm, memory, pio, mmio, router);
    }

    /** The host ends of a virtio console's ports (dev.jvmm.vmm.Console#virtioPorts): they outlive the VM. */
    private volatile java.util.function.Function<VirtioConsoleConfig, List<dev.jvmm.virtio.console.PortEnd>> consoleEnds;

    /** Where a virtio console's ports get their host ends; set before a console is plugged. */
    public void setConsoleEnds(java.util.function.Function<VirtioConsoleConfig, List<dev.jvmm.virtio.console.PortEnd>> f) {
        this.consoleEnds = f;
    }

    /** Plugs in the virtio-rng of the config (the VM is built: no guest notification). */
    public synchronized Plugged addRng(RngConfig r) {
        return plugRng(r, null);
    }

    private Plugged plugRng(RngConfig r, Saved at) {
        String what = "entropy from " + r.source() + (r.limited() ? ", " + r.maxBytes() + " bytes per " + r.periodMs()
                + " ms" : "");
        return plug(Kind.RNG, false, what, at, (id, index, slot, res) -> {
            VirtioDevices.Attached a = VirtioDevices.rng(id, r, slot, at == null ? -1 : at.bar0(), virtio, res);
            Plugged p = new Plugged(id, Kind.RNG, a.address(), what, at != null && at.hot(), a.transport(), null, res);
            p.config = r;
            p.bar0 = a.bar0();
            return p;
        });
    }

    /** Plugs in the virtio console of the config (the VM is built: no guest notification). */
    public synchronized Plugged addConsole(VirtioConsoleConfig c) {
        return plugConsole(c, null);
    }

    private Plugged plugConsole(VirtioConsoleConfig c, Saved at) {
        var ends = consoleEnds;
        if (ends == null) {
            throw new VmmException(VmmException.Reason.INTERNAL, "no host ends for a virtio console");
        }
        String what = (c.console() == null ? "" : "hvc0 " + c.console()) + (c.console() != null && !c.ports().isEmpty()
                ? ", " : "") + c.ports().stream().map(p -> p.name() + " on " + p.socket()).collect(
                java.util.stream.Collectors.joining(", "));
        return plug(Kind.CONSOLE, false, what, at, (id, index, slot, res) -> {
            VirtioDevices.Attached a = VirtioDevices.console(id, c, ends.apply(c), slot, at == null ? -1 : at.bar0(),
                    virtio, res);
            Plugged p = new Plugged(id, Kind.CONSOLE, a.address(), what, at != null && at.hot(), a.transport(), null,
                    res);
            p.config = c;
            p.bar0 = a.bar0();
            return p;
        });
    }

    /** Where hot-plug events go; set once the platform's ACPI devices exist (cold plugs need none). */
    public void setHotplug(Hotplug h) {
        this.hotplug = h;
    }

    /** The devices, in the order they were plugged. */
    public synchronized List<Plugged> devices() {
        return List.copyOf(devices.values());
    }

    /**
     * Stops the threads of every virtio device between requests (a saved state must see them hold still), or starts
     * them again; also starts the devices a restore left quiesced.
     */
    public void setQuiesced(boolean quiesced) {
        for (Plugged p : devices()) {
            if (p.transport() != null) {
                if (quiesced) {
                    p.transport().quiesce();
                } else {
                    p.transport().unquiesce();
                }
            }
        }
    }

    /** The device of {@code id}, or null. */
    public synchronized Plugged get(String id) {
        return devices.get(id);
    }

    /** Plugs in a virtio-blk disk; {@code hot}: the VM runs, tell the guest. */
    public synchronized Plugged addDisk(DiskConfig d, boolean hot) {
        for (Plugged p : devices.values()) {
            if (p.kind == Kind.DISK && p.what.equals(d.path().toString())) {
                throw new VmmException(VmmException.Reason.CONFLICT, d.path() + " is already attached as " + p.id);
            }
        }
        return plugDisk(d, hot, null);
    }

    /** Plugs a disk in, where {@code at} says (a restore: no guest notification, saved slot and BAR) or anywhere. */
    private Plugged plugDisk(DiskConfig d, boolean hot, Saved at) {
        return plug(Kind.DISK, hot && at == null, d.path().toString(), at, (id, index, slot, res) -> {
            VirtioDevices.Attached a = VirtioDevices.disk(id, d, slot, at == null ? -1 : at.bar0(), virtio, res);
            Plugged p = new Plugged(id, Kind.DISK, a.address(), d.path().toString(), at == null ? hot : at.hot(),
                    a.transport(), null, res);
            p.config = d;
            p.bar0 = a.bar0();
            return p;
        });
    }

    /** Plugs in a virtio-net NIC (without a MAC: a generated one); {@code hot}: the VM runs, tell the guest. */
    public synchronized Plugged addNet(NetConfig n, boolean hot) {
        for (Plugged p : devices.values()) {
            if (p.kind == Kind.NET && n.tap() != null && p.what.startsWith("tap " + n.tap() + ",")) {
                throw new VmmException(VmmException.Reason.CONFLICT, "tap " + n.tap() + " is already attached as " + p.id);
            }
        }
        NetConfig.Standby standby = n.standby();
        if (standby != null && pairs.containsKey(standby.nic())) {
            throw new VmmException(VmmException.Reason.CONFLICT, "NIC " + standby.nic() + " already has its standby");
        }
        return plugNet(n, hot, null);
    }

    /** Plugs in the VM's virtio-vsock device (one per VM); {@code hot}: the VM runs, tell the guest. */
    public synchronized Plugged addVsock(VsockConfig v, boolean hot) {
        for (Plugged p : devices.values()) {
            if (p.kind == Kind.VSOCK) {
                throw new VmmException(VmmException.Reason.CONFLICT, "the VM has a vsock device already (" + p.id + ")");
            }
        }
        return plugVsock(v, hot, null);
    }

    private Plugged plugVsock(VsockConfig v, boolean hot, Saved at) {
        return plug(Kind.VSOCK, hot && at == null, "cid " + v.cid(), at, (id, index, slot, res) -> {
            VirtioDevices.Attached a = VirtioDevices.vsock(id, v, slot, at == null ? -1 : at.bar0(), virtio, res);
            Plugged p = new Plugged(id, Kind.VSOCK, a.address(), "cid " + v.cid(), at == null ? hot : at.hot(),
                    a.transport(), null, res);
            p.config = v;
            p.bar0 = a.bar0();
            return p;
        });
    }

    /**
     * Plugs a NIC in, where {@code at} says (a restore: no guest notification, saved slot and BAR) or anywhere; a
     * failover standby makes its pair (restored, it is whole again once the guest runs: plugRestoredPrimaries).
     */
    private Plugged plugNet(NetConfig n, boolean hot, Saved at) {
        NetConfig.Standby standby = n.standby();
        Plugged plugged = plug(Kind.NET, hot && at == null, n.what(), at, (id, index, slot, res) -> {
            byte[] m = n.mac() != null ? n.mac() : NetConfig.defaultMac(index);
            Runnable negotiated = standby == null ? null : () -> standbyNegotiated(standby.nic());
            VirtioDevices.Attached a = VirtioDevices.net(id, n, index, m, slot, at == null ? -1 : at.bar0(), virtio, res,
                    negotiated);
            String what = (n.macvtapOver() != null ? "macvtap " : "tap ")
                    + ((dev.jvmm.virtio.net.VirtioNet) a.transport().device()).tap().name() + ", mac " + NetConfig.format(m);
            Plugged p = new Plugged(id, Kind.NET, a.address(), what, at == null ? hot : at.hot(), a.transport(), null,
                    res);
            p.nic = n.label() != null && n.label().startsWith("--nic ") ? n.label().substring(6) : null;
            p.config = new NetConfig(n.tap(), m, n.queues(), n.bridge(), n.macvtapOver(), n.label(), standby, n.vhost());
            p.bar0 = a.bar0();
            return p;
        });
        if (standby != null) {
            pairs.put(standby.nic(), new Pair(standby, plugged.id));
        }
        return plugged;
    }

    /** Plugs in the VM's virtio-balloon (one at most), at boot. */
    public synchronized Plugged addBalloon(dev.jvmm.vmm.config.BalloonConfig b) {
        if (balloon() != null) {
            throw new VmmException(VmmException.Reason.CONFLICT, "the VM has a balloon already");
        }
        return plugBalloon(b, null);
    }

    private Plugged plugBalloon(dev.jvmm.vmm.config.BalloonConfig b, Saved at) {
        return plug(Kind.BALLOON, false, "balloon", at, (id, index, slot, res) -> {
            VirtioDevices.Attached a = VirtioDevices.balloon(id, b, virtio.memory().size(), slot, at == null ? -1 : at.bar0(),
                    virtio, res);
            Plugged p = new Plugged(id, Kind.BALLOON, a.address(), "balloon", false, a.transport(), null, res);
            p.config = b;
            p.bar0 = a.bar0();
            return p;
        });
    }

    /** While a passed-through function is plugged (its DMA pins guest RAM), the balloon releases nothing. */
    private void balloonInhibit() {
        dev.jvmm.virtio.balloon.VirtioBalloon b = balloon();
        if (b != null) {
            String vfio = devices.values().stream().filter(p -> p.kind == Kind.VFIO).map(p -> p.id).findFirst()
                    .orElse(null);
            b.inhibitRelease(vfio == null ? null : vfio + " is passed through (its DMA pins guest RAM)");
        }
    }

    /** The VM's virtio-balloon, or null. */
    public synchronized dev.jvmm.virtio.balloon.VirtioBalloon balloon() {
        for (Plugged p : devices.values()) {
            if (p.kind == Kind.BALLOON && p.transport != null
                    && p.transport.device() instanceof dev.jvmm.virtio.balloon.VirtioBalloon b) {
                return b;
            }
        }
        return null;
    }

    /** A standby's driver accepted VIRTIO_NET_F_STANDBY (on a vCPU thread): its primary is plugged, off that thread. */
    private synchronized void standbyNegotiated(String nic) {
        Pair p = pairs.get(nic);
        if (p == null || closed) {
            return;
        }
        p.negotiated = true;
        if (failoverThread == null) {
            failoverThread = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "failover-plug");
                t.setDaemon(true);
                return t;
            });
        }
        failoverThread.execute(() -> plugPrimary(nic));
    }

    /**
     * Plugs the primary of failover NIC {@code nic} (its {@link NetConfig.Standby#primary()}) if the guest has
     * negotiated STANDBY and none is plugged; returns it, or null when there is nothing to plug yet (it is plugged
     * when the guest negotiates). Hot-plugged as any VFIO device is.
     */
    public synchronized Plugged plugPrimary(String nic) {
        Pair p = pairs.get(nic);
        if (p == null) {
            throw new VmmException(VmmException.Reason.NOT_FOUND, "no failover NIC \"" + nic + "\"");
        }
        if (closed || frozen != null || p.primaryId != null || !p.negotiated || p.standby.primary() == null) {
            return p.primaryId != null ? devices.get(p.primaryId) : null;
        }
        try {
            Plugged vf = addVfio(p.standby.primary(), true);
            p.primaryId = vf.id;
            log.info("{}: failover primary {} ({}) plugged next to standby {}", nic, vf.id, vf.what, p.standbyId);
            return vf;
        } catch (RuntimeException e) {
            log.warn("{}: cannot plug the failover primary {}: {}; the standby {} carries the traffic", nic,
                    p.standby.primary().bdf(), e.getMessage(), p.standbyId);
            throw e;
        }
    }

    /** Sets failover NIC {@code nic}'s primary (null: none; the pair then runs on its standby). */
    public synchronized void setFailoverPrimary(String nic, VfioConfig vf) {
        Pair p = pairs.get(nic);
        if (p == null) {
            throw new VmmException(VmmException.Reason.NOT_FOUND, "no failover NIC \"" + nic + "\"");
        }
        p.standby.setPrimary(vf);
    }

    /** Whether {@code nic} is a failover NIC with no primary plugged. */
    public synchronized boolean failoverWithoutPrimary(String nic) {
        Pair p = pairs.get(nic);
        return p != null && p.primaryId == null;
    }

    /** The failover NIC whose primary is device {@code id}, or null. */
    public synchronized String failoverOfPrimary(String id) {
        for (Map.Entry<String, Pair> e : pairs.entrySet()) {
            if (id.equals(e.getValue().primaryId)) {
                return e.getKey();
            }
        }
        return null;
    }

    /** The failover pair of NIC {@code nic}, for vm.info: its legs and which one carries the traffic; null if none. */
    public synchronized Map<String, Object> failover(String nic) {
        Pair p = pairs.get(nic);
        if (p == null) {
            return null;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("standby", p.standbyId);
        m.put("primary", p.primaryId);
        m.put("primary_vf", p.standby.primary() == null ? null : p.standby.primary().bdf());
        m.put("standby_negotiated", p.negotiated);
        Plugged vf = p.primaryId == null ? null : devices.get(p.primaryId);
        // the guest's net_failover sends through the primary once its driver is up: bus mastering on is the sign
        boolean primaryUp = vf != null && !vf.removing() && (vf.vfio.configRead(4, 2) & 4) != 0;
        m.put("active", primaryUp ? "primary" : "standby");
        return m;
    }

    /** Passes a host PCI function through; {@code hot}: the VM runs, tell the guest. */
    public synchronized Plugged addVfio(VfioConfig c, boolean hot) {
        for (Plugged p : devices.values()) {
            if (p.kind == Kind.VFIO && p.what.equals(c.bdf())) {
                throw new VmmException(VmmException.Reason.CONFLICT, "--device vfio=" + c.bdf()
                        + " is already passed through as " + p.id);
            }
        }
        if (hot) {
            try {
                VfioDevices.preflight(List.of(c));
            } catch (VmmException e) {
                // the request named a function that cannot be passed through: the request is at fault
                throw new VmmException(VmmException.Reason.CONFIG, e.getMessage(), e);
            }
        }
        return plug(Kind.VFIO, hot, c.bdf(), null, (id, index, slot, res) -> {
            VfioDevices.Attached a = vfio.attach(id, c, slot, mmio32, pci, res);
            Plugged p = new Plugged(id, Kind.VFIO, a.address(), c.bdf(), hot, null, a.device(), res);
            p.nic = c.nic();
            p.config = c;
            return p;
        });
    }

    @FunctionalInterface
    private interface Plug {
        Plugged plug(String id, int index, int slot, ResourceStack res);
    }

    private Plugged plug(Kind kind, boolean hot, String what, Saved at, Plug how) {
        if (closed) {
            throw new VmmException(VmmException.Reason.CONFLICT, "the VM is shutting down");
        }
        if (frozen != null && at == null) {
            throw new VmmException(VmmException.Reason.CONFLICT, what + ": no device can be added while " + frozen);
        }
        Hotplug h = hotplug;
        if (hot && h == null) {
            throw new VmmException(VmmException.Reason.INTERNAL, "hotplug is not set up");
        }
        int slot;
        int index;
        String id;
        if (at == null) {
            slot = freeSlot(what);
            index = nextIndex.merge(kind, 1, Integer::sum) - 1;
            id = kind.prefix() + "-" + index;
        } else {
            slot = at.slot();
            index = at.index();
            id = at.id();
            if (pci.get(slot, 0) != null || devices.containsKey(id)) {
                throw new VmmException(VmmException.Reason.CONFIG, "saved device " + id + " at slot " + slot
                        + ": the slot or the id is taken twice");
            }
        }
        Plugged p = ResourceStack.building(res -> how.plug(id, index, slot, res));
        devices.put(id, p);
        balloonInhibit();
        if (hot) {
            h.requestAdd(slot);
            log.info("{} at {}: hot-added ({}), the guest was notified", id, p.address, what);
        }
        return p;
    }

    // ---- saved state: which device is where ----

    /**
     * Where a device was, in a saved VM: its id (whose number is its index among devices of its kind, which also
     * names a generated MAC or macvtap), slot, BAR0 allocation and whether it came hot.
     */
    public record Saved(String id, Kind kind, int slot, long bar0, boolean hot, String nic) {
        int index() {
            return Integer.parseInt(id.substring(kind.prefix().length() + 1));
        }
    }

    /**
     * The devices as a saved state records them, in plug order, plus the next index of each kind. Refuses (CONFLICT)
     * a VM whose state cannot be saved: a passed-through function (its state is in the host's hardware; a failover
     * pair is saved with its primary unplugged) or a device being removed.
     */
    public synchronized List<Saved> saved() {
        return saved(false);
    }

    /**
     * Refuses (CONFLICT, naming the device) a VM that cannot migrate even once its failover primaries are unplugged:
     * a plain passed-through function, or a device being removed.
     */
    public synchronized void checkMigratable() {
        saved(true);
    }

    /** The failover NICs whose primary is plugged now, each with its primary's device id. */
    public synchronized Map<String, String> pluggedPrimaries() {
        Map<String, String> out = new LinkedHashMap<>();
        pairs.forEach((nic, p) -> {
            if (p.primaryId != null) {
                out.put(nic, p.primaryId);
            }
        });
        return out;
    }

    private List<Saved> saved(boolean primariesGo) {
        List<Saved> out = new ArrayList<>();
        for (Plugged p : devices.values()) {
            String pairOf = failoverOfPrimary(p.id);
            if (pairOf != null && primariesGo) {
                continue;
            }
            if (pairOf != null) {
                throw new VmmException(VmmException.Reason.CONFLICT, p.id + " (" + p.what + ") is the primary of "
                        + "failover NIC " + pairOf + ": a VF's state lives in the host's hardware, so the pair is saved "
                        + "on its standby (vm.send-migration unplugs the primary itself; before a snapshot remove it "
                        + "with vm.remove-device " + p.id + ")");
            }
            if (p.kind == Kind.VFIO) {
                throw new VmmException(VmmException.Reason.CONFLICT, p.id + " (" + p.what + ") is a passed-through "
                        + "function: its state lives in the host's hardware and cannot be saved, so this VM cannot be "
                        + "snapshotted or migrated (remove it first, or use --nic ...,failover=on)");
            }
            if (p.removing()) {
                throw new VmmException(VmmException.Reason.CONFLICT, p.id + " is being removed: wait for the guest's eject");
            }
            out.add(new Saved(p.id, p.kind, p.address.device(), p.bar0, p.hot, p.nic));
        }
        return out;
    }

    /** How many devices of each kind were ever plugged (the next ids), for a saved state. */
    public synchronized Map<Kind, Integer> nextIndexes() {
        return new java.util.EnumMap<>(nextIndex);
    }

    /**
     * Plugs a device of a saved VM back where it was: {@code config} is its {@link DiskConfig}, {@link NetConfig} (a
     * NIC with its MAC), {@link RngConfig} or {@link VirtioConsoleConfig}. The device's state is restored afterwards,
     * through its transport.
     */
    public synchronized Plugged restore(Saved at, Object config) {
        Plugged p = switch (at.kind()) {
            case DISK -> plugDisk((DiskConfig) config, false, at);
            case NET -> plugNet((NetConfig) config, false, at);
            case BALLOON -> plugBalloon((dev.jvmm.vmm.config.BalloonConfig) config, at);
            case VFIO -> throw new VmmException(VmmException.Reason.CONFIG, at.id() + ": a passed-through function "
                    + "cannot be restored");
            case VSOCK -> plugVsock((VsockConfig) config, false, at);
            case RNG -> plugRng((RngConfig) config, at);
            case CONSOLE -> plugConsole((VirtioConsoleConfig) config, at);
        };
        nextIndex.merge(at.kind(), at.index() + 1, Math::max);
        return p;
    }

    /**
     * A restored VM runs: each failover pair whose standby's driver had accepted STANDBY gets its primary (the VF this
     * host's pool gave the NIC, if any) hot-plugged, off the calling thread, as at a first negotiation.
     */
    public synchronized void plugRestoredPrimaries() {
        for (Map.Entry<String, Pair> e : pairs.entrySet()) {
            Plugged standby = devices.get(e.getValue().standbyId);
            if (standby != null && standby.transport.device() instanceof dev.jvmm.virtio.net.VirtioNet n
                    && n.standbyAccepted()) {
                standbyNegotiated(e.getKey());
            }
        }
    }

    /**
     * Sets the links of the NICs on macvtaps down (or up again): a migration's source lets go of their MACs at the
     * switch-over, so that the destination's macvtaps, with the same MACs and possibly on the same link, can come up.
     */
    public synchronized void setMacvtapsUp(boolean up) {
        for (Plugged p : devices.values()) {
            if (p.config instanceof NetConfig n && n.macvtapOver() != null
                    && p.transport.device() instanceof dev.jvmm.virtio.net.VirtioNet v) {
                try {
                    v.tap().setUp(up);
                } catch (RuntimeException e) {
                    log.warn("{}: could not set macvtap {} {}: {}", p.id, v.tap().name(), up ? "up" : "down",
                            e.getMessage());
                }
            }
        }
    }

    /**
     * Refuses device additions and removals (CONFLICT, naming {@code why}) until {@link #thaw}: a migration sends
     * where the devices are before the pages, and its destination plugs them while the pages arrive.
     */
    public synchronized void freeze(String why) {
        frozen = why;
    }

    public synchronized void thaw() {
        frozen = null;
    }

    /** Restores the next index of each kind (ids are never reused, also across a restore). */
    public synchronized void setNextIndexes(Map<Kind, Integer> next) {
        next.forEach((k, v) -> nextIndex.merge(k, v, Math::max));
    }

    private int freeSlot(String what) {
        for (int s = FIRST_SLOT; s <= LAST_SLOT; s++) {
            if (pci.get(s, 0) == null) { // a device waiting for its eject still holds its slot
                return s;
            }
        }
        throw new VmmException(VmmException.Reason.CONFLICT, what + ": no free slot on PCI bus 0 (slots "
                + FIRST_SLOT + ".." + LAST_SLOT + " are taken)");
    }


    /**
     * Removes device {@code id}: asks the guest to eject its slot and waits up to {@code timeout} for the eject,
     * then frees everything the device holds. Throws NOT_FOUND for an unknown id, TIMEOUT if the guest did not
     * eject (the device then stays, usable, and the request is withdrawn if the guest had not seen it yet).
     */
    public void remove(String id, Duration timeout) {
        Plugged p;
        CompletableFuture<Void> done;
        synchronized (this) {
            p = devices.get(id);
            if (p == null) {
                throw new VmmException(VmmException.Reason.NOT_FOUND, "no device \"" + id + "\" (devices: "
                        + String.join(", ", devices.keySet()) + ")");
            }
            Hotplug h = hotplug;
            if (h == null) {
                throw new VmmException(VmmException.Reason.INTERNAL, "hotplug is not set up");
            }
            if (frozen != null) {
                throw new VmmException(VmmException.Reason.CONFLICT, id + " cannot be removed while " + frozen);
            }
            for (Map.Entry<String, Pair> e : pairs.entrySet()) {
                if (id.equals(e.getValue().standbyId) && e.getValue().primaryId != null) {
                    throw new VmmException(VmmException.Reason.CONFLICT, id + " is the standby of failover NIC "
                            + e.getKey() + ", whose primary " + e.getValue().primaryId + " is plugged: remove the "
                            + "primary first");
                }
            }
            done = p.ejected;
            if (done == null || done.isDone()) {
                done = new CompletableFuture<>();
                p.ejected = done;
            }
            h.requestRemove(p.address.device());
        }
        log.info("{} at {}: asked the guest to eject it (waiting up to {} s)", id, p.address, timeout.toSeconds());
        try {
            done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            boolean withdrawn;
            synchronized (this) {
                withdrawn = hotplug.withdrawRemove(p.address.device());
                if (withdrawn) {
                    p.ejected = null;
                }
            }
            throw new VmmException(VmmException.Reason.TIMEOUT, id + " at " + p.address + ": the guest did not eject it "
                    + "within " + timeout.toSeconds() + " s; " + (withdrawn
                    ? "the request was withdrawn (the guest had not read it) and the device stays attached"
                    : "the guest has seen the request; the device stays attached until it ejects it"));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmmException(VmmException.Reason.INTERNAL, "interrupted while waiting for the guest to eject " + id);
        } catch (ExecutionException e) {
            throw new VmmException(VmmException.Reason.INTERNAL, id + ": " + e.getCause().getMessage(), e.getCause());
        }
    }

    /**
     * The guest ejected {@code slot} ({@code _EJ0}, on a vCPU thread): the device leaves the bus and everything it
     * holds is freed. An eject of an empty slot is logged and ignored.
     */
    public void ejected(int slot) {
        Plugged p = null;
        synchronized (this) {
            for (Plugged q : devices.values()) {
                if (q.address.device() == slot) {
                    p = q;
                }
            }
            if (p == null) {
                log.warn("the guest ejected slot {}, which holds no device", slot);
                return;
            }
            devices.remove(p.id);
            for (Pair pair : pairs.values()) {
                if (p.id.equals(pair.primaryId)) {
                    pair.primaryId = null;
                }
            }
            String gone = p.id;
            pairs.values().removeIf(pair -> gone.equals(pair.standbyId));
            balloonInhibit();
        }
        long t0 = System.nanoTime();
        try {
            p.resources.close();
        } catch (RuntimeException e) {
            log.warn("{}: freeing it after the eject: {}", p.id, e.getMessage());
        }
        log.info("{} at {}: ejected by the guest, freed in {} ms ({})", p.id, p.address,
                (System.nanoTime() - t0) / 1_000_000, p.what);
        CompletableFuture<Void> e = p.ejected;
        if (e != null) {
            e.complete(null);
        }
    }

    /** Every device, for vm.info: id, kind, BDF, backend, how it came, and whether a removal is pending. */
    public synchronized List<Map<String, Object>> describe() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Plugged p : devices.values()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", p.id);
            m.put("kind", p.kind.prefix());
            m.put("bdf", p.bdf());
            m.put("backend", p.what);
            if (p.nic != null) {
                m.put("nic", p.nic);
                Pair pair = pairs.get(p.nic);
                if (pair != null) {
                    m.put("failover", p.id.equals(pair.primaryId) ? "primary" : "standby");
                }
            }
            m.put("hotplugged", p.hot);
            if (p.removing()) {
                m.put("removing", true);
            }
            out.add(m);
        }
        return out;
    }

    /** Frees every device in reverse order, then the VFIO container (the VM's end). */
    @Override
    public void close() {
        List<Plugged> all;
        synchronized (this) {
            closed = true;
            all = new ArrayList<>(devices.values());
            devices.clear();
            pairs.clear();
            if (failoverThread != null) {
                failoverThread.shutdownNow();
            }
        }
        ResourceStack stack = new ResourceStack();
        stack.push(vfio); // closed last: the container goes after the devices that used it
        for (Plugged p : all) {
            stack.push(p.resources); // closed in reverse order of plugging
        }
        stack.close();
    }
}

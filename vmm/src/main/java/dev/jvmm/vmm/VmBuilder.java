package dev.jvmm.vmm;

import dev.jvmm.core.Bus;
import dev.jvmm.core.BusDevice;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.PciHostBridge;
import dev.jvmm.core.pci.PciRootBus;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.kvm.CpuidEntry;
import dev.jvmm.sys.kvm.Kvm;
import dev.jvmm.sys.kvm.VcpuFd;
import dev.jvmm.sys.kvm.VmFd;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import dev.jvmm.vmm.acpi.AcpiTables;
import dev.jvmm.vmm.boot.BootEntry;
import dev.jvmm.vmm.boot.CpuBoot;
import dev.jvmm.vmm.boot.KernelLoader;
import dev.jvmm.vmm.boot.Layout;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.devices.DeviceManager;
import dev.jvmm.vmm.devices.GedDevice;
import dev.jvmm.vmm.devices.I8042;
import dev.jvmm.vmm.devices.PciHotplugController;
import dev.jvmm.vmm.devices.PowerDevice;
import dev.jvmm.vmm.devices.PvPanic;
import dev.jvmm.vmm.devices.Serial16550;
import dev.jvmm.vmm.snapshot.StateFile;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a {@link Vm} from a {@link VmConfig}, step by step (KVM caps, VM fd, TSS and identity map, irqchip and
 * PIT2, guest RAM and slots, ACPI tables, kernel and initrd, platform devices, vCPUs with CPUID/MSRs/FPU/LAPIC and
 * the boot entry state). Every owner goes on a {@link ResourceStack}; if any step fails the stack unwinds in
 * reverse, so a failed launch leaves nothing behind.
 */
public final class VmBuilder {
    private static final Logger log = LoggerFactory.getLogger(VmBuilder.class);
    /** The panic banner of Linux's panic(). */
    public static final String PANIC_MARKER = "Kernel panic - not syncing";
    static final int[] REQUIRED_CAPS = {KvmConstants.KVM_CAP_IRQCHIP, KvmConstants.KVM_CAP_USER_MEMORY,
        KvmConstants.KVM_CAP_SET_TSS_ADDR, KvmConstants.KVM_CAP_PIT2, KvmConstants.KVM_CAP_EXT_CPUID,
        KvmConstants.KVM_CAP_IMMEDIATE_EXIT};
    static final String[] REQUIRED_CAP_NAMES = {"KVM_CAP_IRQCHIP", "KVM_CAP_USER_MEMORY", "KVM_CAP_SET_TSS_ADDR",
        "KVM_CAP_PIT2", "KVM_CAP_EXT_CPUID", "KVM_CAP_IMMEDIATE_EXIT"};

    // MSRs set on every vCPU (Intel SDM Vol. 4; AMD APM Vol. 2 for the SYSCALL MSRs).
    static final int MSR_IA32_TSC = 0x10, MSR_IA32_SYSENTER_CS = 0x174, MSR_IA32_SYSENTER_ESP = 0x175,
            MSR_IA32_SYSENTER_EIP = 0x176, MSR_IA32_MISC_ENABLE = 0x1a0, MSR_MTRR_DEF_TYPE = 0x2ff,
            MSR_STAR = 0xc000_0081, MSR_LSTAR = 0xc000_0082, MSR_CSTAR = 0xc000_0083, MSR_SYSCALL_MASK = 0xc000_0084,
            MSR_KERNEL_GS_BASE = 0xc000_0102;
    static final int APIC_LVT_LINT0 = 0x350, APIC_LVT_LINT1 = 0x360;
    static final int APIC_MODE_EXTINT = 0x7, APIC_MODE_NMI = 0x4;

    private VmBuilder() {
    }

    /** Guest RAM for {@code cfg}'s memory size, laid out as a VM built from it has it (empty: all zeros). */
    public static GuestMemory createRam(VmConfig cfg) {
        List<GuestMemory.Range> ranges = new ArrayList<>();
        for (Layout.Ram r : new Layout(cfg.memory()).ram()) {
            ranges.add(new GuestMemory.Range(r.start(), r.size()));
        }
        return GuestMemory.create(ranges);
    }

    /** The host's vCPU limit (KVM_CAP_MAX_VCPUS, falling back to KVM_CAP_NR_VCPUS). */
    public static int maxVcpus() {
        try (Kvm kvm = Kvm.open()) {
            int m = kvm.checkExtension(KvmConstants.KVM_CAP_MAX_VCPUS);
            return m > 0 ? m : Math.max(1, kvm.checkExtension(KvmConstants.KVM_CAP_NR_VCPUS));
        } catch (RuntimeException e) {
            return 255; // validated again when the VM is created
        }
    }

    public static Vm build(VmConfig cfg, Console console) {
        return build(cfg, console, List.of());
    }

    /** Builds the VM with {@code extensions} attached (in order) before the vCPUs are created. */
    public static Vm build(VmConfig cfg, Console console, List<VmExtension> extensions) {
        return build(cfg, console, extensions, null);
    }

    /**
     * As {@link #build(VmConfig, Console, List)}; with {@code restore} the VM is built again from a saved state
     * instead of booted: guest RAM comes from the saved image (mapped privately, so pages load as the guest touches
     * them), no kernel is loaded, the saved devices are plugged where they were, and the VM, vCPU and device states
     * are loaded in the order KVM needs (VM: PIT, clock, irqchips; vCPUs: CPUID first, events last). The VM's vCPUs
     * start parked ({@link Vm#resume()} lets them go).
     */
    public static Vm build(VmConfig cfg, Console console, List<VmExtension> extensions, VmSnapshot.Restore restore) {
        return ResourceStack.building(res -> {
            try {
                return build(cfg, console, res, extensions, restore);
            } catch (RuntimeException e) {
                if (restore != null) {
                    restore.buildFailed(e); // before the stack unwinds: a migration still writing into RAM stops
                }
                throw e;
            }
        });
    }

    /** Debug log of a build step with the milliseconds since the process started (start-up time work). */
    private static void step(String what) {
        StartupTrace.mark(what);
        if (log.isDebugEnabled()) {
            log.debug("+{} ms since process start: {}", StartupTrace.millisSinceStart(), what);
        }
    }

    private static Vm build(VmConfig cfg, Console console, ResourceStack res, List<VmExtension> extensions,
            VmSnapshot.Restore restore) {
        step("building the VM");
        // VFIO devices are checked first, from sysfs: a device that cannot be passed through is named before KVM,
        // guest RAM or any fd is touched
        // RAM that arrived filled (a migration) is the VM's from here: unmapped if the build fails before it is
        // adopted below; once adopted it goes where fresh RAM goes on the stack (after the VM fd, so that its memory
        // slots are deleted while the VM fd is still open)
        GuestMemory given = restore != null ? restore.memory() : null;
        boolean[] adopted = {false};
        if (given != null) {
            res.push(() -> {
                if (!adopted[0]) {
                    given.close();
                }
            });
        }
        dev.jvmm.vmm.devices.VfioDevices.preflight(cfg.vfio());
        Kvm kvm;
        try {
            kvm = res.push(Kvm.open());
        } catch (ErrnoException e) {
            // open(2) failing is a host set-up matter; KVM_GET_API_VERSION failing is not, and the errno says which
            throw new VmmException(VmmException.Reason.HOST, "open".equals(e.op())
                    ? "cannot open " + Kvm.DEV_KVM + ": " + e.errnoName() + " (is KVM enabled and are you in the kvm group?)"
                    : "cannot use " + Kvm.DEV_KVM + ": " + e.getMessage(), e);
        }
        for (int i = 0; i < REQUIRED_CAPS.length; i++) {
            if (kvm.checkExtension(REQUIRED_CAPS[i]) <= 0) {
                throw new VmmException(VmmException.Reason.HOST, "this host's KVM lacks " + REQUIRED_CAP_NAMES[i]);
            }
        }
        VmFd vm = res.push(kvm.createVm());
        step("VM created");
        vm.setTssAddr(Layout.TSS);
        vm.setIdentityMapAddr(Layout.IDENTITY_MAP);
        vm.createIrqchip();
        vm.createPit2(KvmConstants.KVM_PIT_SPEAKER_DUMMY);

        Layout layout = new Layout(cfg.memory());
        List<GuestMemory.Range> ranges = new ArrayList<>();
        for (Layout.Ram r : layout.ram()) {
            ranges.add(new GuestMemory.Range(r.start(), r.size()));
        }
        GuestMemory mem = res.push(given != null ? given : GuestMemory.create(ranges));
        adopted[0] = true;
        if (restore != null && restore.memoryFile() != null) {
            restore.checkMemory(mem); // a snapshot: its state is here, and its RAM is mapped before the slots exist
            mem.mapPrivate(restore.memoryFile());
        }
        mem.registerSlots(vm::setUserMemoryRegion, 0);
        step("VM, irqchip, PIT and " + (cfg.memory() >> 20) + " MiB of RAM set up");

        BootEntry entry;
        if (restore == null) {
            entry = loadGuest(cfg, layout, mem);
        } else {
            entry = new BootEntry(BootEntry.Mode.LONG64, 0, 0, "restored from " + restore.origin());
        }

        CompletableFuture<VmExit> exit = new CompletableFuture<>();
        Board board = board(console, exit, vm::irqLine);
        Bus pio = board.pio();
        Bus mmio = board.mmio();
        PciRootBus pci = board.pci();
        Serial16550 serial = board.serial();
        I8042 i8042 = board.i8042();
        PowerDevice power = board.power();
        PvPanic pvpanic = board.pvpanic();
        PciHostBridge hostBridge = board.hostBridge();
        // one KVM_SET_GSI_ROUTING table for virtio and VFIO MSI-X vectors, also those of hot-added devices
        dev.jvmm.irq.IrqRouter router = res.push(new dev.jvmm.irq.IrqRouter(vm));
        // one allocator for the MMIO32 window: virtio BARs, then VFIO BARs, then whatever extensions ask for
        dev.jvmm.core.AddressAllocator mmio32 = new dev.jvmm.core.AddressAllocator("mmio32", Layout.MMIO32_START,
                Layout.MMIO32_SIZE);
        DeviceManager devices = res.push(new DeviceManager(vm, mem, pio, mmio, pci, router, mmio32));
        devices.setConsoleEnds(console::virtioPorts); // the ends outlive this VM: a reboot's VM takes them over
        // the ACPI GED (power button, PCI hotplug events) and the hotplug controller whose _EJ0 frees a device
        GedDevice ged = new GedDevice(level -> vm.irqLine(GedDevice.GSI, level ? 1 : 0));
        pio.register(GedDevice.PORT, GedDevice.LENGTH, ged, "acpi-ged");
        PciHotplugController hotplug = new PciHotplugController(ged, devices::ejected);
        pio.register(PciHotplugController.PORT, PciHotplugController.LENGTH, hotplug, "pci-hotplug");
        devices.setHotplug(hotplug);
        Platform platformDevices = new Platform(serial, i8042, power, pvpanic, ged, hotplug, hostBridge);
        List<DeviceManager.Saved> saved = null;
        if (restore == null) {
            // the config's devices: virtio disks, then virtio NICs, then VFIO functions, from slot 1
            for (dev.jvmm.vmm.config.DiskConfig d : cfg.disks()) {
                devices.addDisk(d, false);
            }
            for (dev.jvmm.vmm.config.NetConfig n : cfg.nets()) {
                devices.addNet(n, false);
            }
            for (dev.jvmm.vmm.config.VfioConfig c : cfg.vfio()) {
                devices.addVfio(c, false);
            }
            // the other virtio devices (issue 18) last, so that the slots of the ones above stay where they were:
            // rng, console, balloon, vsock
            if (cfg.extras().rng() != null) {
                devices.addRng(cfg.extras().rng());
            }
            if (cfg.extras().console() != null) {
                devices.addConsole(cfg.extras().console());
            }
            if (cfg.extras().balloon() != null) {
                devices.addBalloon(cfg.extras().balloon());
            }
            if (cfg.extras().vsock() != null) {
                devices.addVsock(cfg.extras().vsock(), false);
            }
        } else {
            // where the saved VM had them (a migration's layout comes first: they are plugged while pages arrive)
            saved = plugSavedDevices(cfg, restore, devices);
            step("devices plugged where they were");
        }

        if (!extensions.isEmpty()) {
            VmExtension.Context ctx = new VmExtension.Context(vm, mem, pio, mmio, pci, mmio32,
                    new dev.jvmm.core.AddressAllocator("mmio64", layout.mmio64Start(), Layout.MMIO64_SIZE), res,
                    cfg.cpus());
            for (VmExtension x : extensions) {
                x.attach(ctx);
            }
            step(extensions.size() + " extension(s) attached");
        }
        Vcpu.installKickSignal();
        List<CpuidEntry> supported = kvm.supportedCpuid();
        List<Vcpu> vcpus = new ArrayList<>();
        for (int i = 0; i < cfg.cpus(); i++) {
            VcpuFd fd = vm.createVcpu(i);
            Vcpu v = res.push(new Vcpu(fd, pio, mmio, exit::complete));
            vcpus.add(v);
            if (restore != null) {
                // its state is loaded below, once it is here; its thread starts now, parked before any KVM_RUN, so
                // that a migration's downtime does not include making the thread
                v.requestPause();
                v.start();
                continue;
            }
            setUpFresh(fd, supported, i, cfg.cpus());
            if (i == 0) {
                CpuBoot.setEntryState(fd, entry);
            }
        }
        step("vcpus set up");
        dev.jvmm.sys.kvm.VmState vmState = null;
        if (restore != null) {
            // everything above needs no state: a migration's destination does it while the pages still arrive
            if (restore.stateArriving()) {
                rehearse(restore.origin(), kvm, vm, mem, vcpus, platformDevices, devices, saved, supported, router);
            }
            restore.awaitState();
            step("state here");
            vmState = loadState(restore, cfg.cpus(), kvm, vm, mem, vcpus, platformDevices, devices, saved, router);
            devices.setMacvtapsUp(true); // a migration's source has set its own down by now
            restore.laps().lap("NICs up");
            step("state restored");
        }
        log.debug("VM built: {} MiB, {} vcpu(s), {}", cfg.memory() >> 20, cfg.cpus(), entry.description());
        Vm built = new Vm(kvm, vm, mem, pio, mmio, pci, vcpus, platformDevices, entry, res, exit, devices);
        if (vmState != null) {
            built.startPaused(vmState.clock().clock());
        }
        return built;
    }

    /**
     * What of a cold boot's build needs no KVM, for the launcher's training launch on a host without a usable
     * /dev/kvm (dev.jvmm.vmm.cli.LaunchTraining; docs/performance.md): guest RAM, the ACPI tables, kernel and initrd,
     * the boot tables and reset vector, the board's devices with the training kernel's port I/O through the PIO bus
     * (two bytes to the 16550, then the ACPI power-off), and the CPUID a vCPU gets. The start-up archive made from
     * that run then holds those classes (and, on JDK 25, their resolved call sites) as a real launch uses them.
     * Returns how the rehearsal ended: a power-off.
     */
    public static VmExit rehearseWithoutKvm(VmConfig cfg, Console console) {
        try (GuestMemory mem = createRam(cfg)) {
            loadGuest(cfg, new Layout(cfg.memory()), mem);
            CompletableFuture<VmExit> exit = new CompletableFuture<>();
            Board board = board(console, exit, (gsi, level) -> { });
            new GedDevice(level -> { });
            Cpuid.forVcpu(List.of(), 0, cfg.cpus());
            Vcpu.installKickSignal();
            // the classes of the steps that need KVM, loaded (not run), so that the archive holds them too
            Class<?>[] kvmSteps = {Kvm.class, VmFd.class, VcpuFd.class, VmFd.RoutingEntry.class, CpuidEntry.class,
                dev.jvmm.sys.kvm.Regs.class, dev.jvmm.sys.kvm.Sregs.class, dev.jvmm.sys.kvm.ExitReason.class,
                dev.jvmm.sys.kvm.uapi.KvmIoctls.class, dev.jvmm.sys.Ioctl.class, dev.jvmm.sys.FlexArray.class,
                dev.jvmm.core.MemorySlot.class, dev.jvmm.core.AddressAllocator.class, dev.jvmm.irq.IrqRouter.class,
                dev.jvmm.irq.GsiAllocator.class, DeviceManager.class, DeviceManager.Kind.class,
                dev.jvmm.vmm.devices.VirtioDevices.Env.class, PciHotplugController.class, Platform.class, Vcpu.class,
                Vm.class, Laps.class};
            log.debug("training without KVM: {} classes of its steps loaded", kvmSteps.length);
            board.pio().write(Serial16550.COM1, 1, 'j');
            board.pio().write(Serial16550.COM1, 1, '\n');
            board.pio().write(PowerDevice.SLEEP_CONTROL, 1, AcpiTables.SLP_TYP_S5 << 2 | 1 << 5);
            return exit.getNow(new VmExit(VmExit.Kind.VMM_ERROR, "the rehearsal did not power off"));
        }
    }

    /** Raises and lowers the in-kernel irqchip's lines ({@code VmFd::irqLine}). */
    interface IrqLines {
        void set(int gsi, int level);
    }

    /** The devices on the PIO and MMIO buses that every VM has from the start, and those buses. */
    record Board(Bus pio, Bus mmio, PciRootBus pci, Serial16550 serial, I8042 i8042, PowerDevice power, PvPanic pvpanic,
            PciHostBridge hostBridge) {
    }

    /**
     * The 16550 on {@code console}, the i8042 (reset), the ACPI power registers, pvpanic, the PCI root bus with its
     * host bridge (CF8/CFC and ECAM), and the POST-code and I/O-delay ports, on new buses; power-off, reset and panic
     * complete {@code exit}.
     */
    static Board board(Console console, CompletableFuture<VmExit> exit, IrqLines irq) {
        PowerDevice.Events events = new PowerDevice.Events() {
            @Override
            public void powerOff() {
                exit.complete(new VmExit(VmExit.Kind.POWEROFF, "guest powered off (ACPI S5)"));
            }

            @Override
            public void reset(String how) {
                exit.complete(new VmExit(VmExit.Kind.RESET, "guest requested a reset (" + how + ")"));
            }
        };
        Bus pio = new Bus("pio");
        Bus mmio = new Bus("mmio");
        Serial16550 serial = new Serial16550(console.output(),
                level -> irq.set(Serial16550.COM1_IRQ, level ? 1 : 0),
                line -> {
                    if (line.contains(PANIC_MARKER)) {
                        exit.complete(new VmExit(VmExit.Kind.PANIC, "guest kernel panic: "
                                + line.substring(line.indexOf(PANIC_MARKER)).trim()));
                    }
                });
        console.setInput(serial::receive);
        pio.register(Serial16550.COM1, 8, serial, "serial-com1");
        I8042 i8042 = new I8042(events);
        pio.register(I8042.DATA_PORT, 5, i8042, "i8042");
        PowerDevice power = new PowerDevice(events);
        pio.register(PowerDevice.PORT, PowerDevice.LENGTH, power, "acpi-power");
        PvPanic pvpanic = new PvPanic(() -> exit.complete(new VmExit(VmExit.Kind.PANIC,
                "guest kernel panic (reported by the guest's pvpanic driver)")));
        pio.register(PvPanic.PORT, 1, pvpanic, "pvpanic");
        PciRootBus pci = new PciRootBus(0);
        PciHostBridge hostBridge = new PciHostBridge();
        pci.add(hostBridge, 0, 0);
        pio.register(PciRootBus.CONFIG_ADDRESS_PORT, PciRootBus.CONFIG_PORTS, pci.configPorts(), "pci-conf1");
        mmio.register(Layout.ECAM_START, Layout.ECAM_SIZE, pci.ecam(), "pci-ecam");
        pio.register(0x80, 1, SINK, "post-code");
        pio.register(0xed, 1, SINK, "io-delay");
        return new Board(pio, mmio, pci, serial, i8042, power, pvpanic, hostBridge);
    }

    /** A vCPU as a cold boot sets it up: CPUID, MSRs, FPU, LINT0/LINT1. */
    private static void setUpFresh(VcpuFd fd, List<CpuidEntry> supported, int index, int cpus) {
        fd.setCpuid(Cpuid.forVcpu(supported, index, cpus));
        setMsrs(fd);
        fd.setFpu(0x37f, 0x1f80);
        setLint(fd);
    }

    /**
     * Loads a saved state into the VM being built, in the order KVM needs (after checking it fits the VM): the
     * in-kernel PIT, clock and irqchips first, since the device states loaded next may raise their lines again; then
     * the platform devices and PCI functions; then the vCPUs; last, the virtio devices the restore left quiesced
     * start, so that no interrupt they raise falls before the routes or the local APICs are in. Returns the VM
     * state (its clock starts the VM).
     */
    private static dev.jvmm.sys.kvm.VmState loadState(VmSnapshot.Restore restore, int cpus, Kvm kvm, VmFd vm,
            GuestMemory mem, List<Vcpu> vcpus, Platform platform, DeviceManager devices,
            List<DeviceManager.Saved> saved, dev.jvmm.irq.IrqRouter router) {
        if (restore.memoryFile() == null) {
            restore.checkMemory(mem);
        }
        if (restore.vcpuCount() != cpus) {
            throw new VmmException(VmmException.Reason.CONFIG, restore.origin() + ": " + restore.vcpuCount()
                    + " vCPUs were saved, the config has " + cpus);
        }
        Laps laps = restore.laps().lap("checks");
        dev.jvmm.sys.kvm.VmState vmState = restore.vm();
        vmState.restore(vm);
        laps.lap("VM state");
        router.deferCommits(); // every vector's route in one commit
        try {
            restoreStates(restore, saved, devices, platform);
        } catch (RuntimeException e) {
            throw ResourceStack.closeAfter(router::commitDeferred, e); // the state's error, not the commit's
        }
        router.commitDeferred();
        for (Vcpu v : vcpus) {
            restore.vcpu(v.id(), kvm).restore(v.fd());
        }
        laps.lap("vCPU states");
        devices.setQuiesced(false);
        laps.lap("devices started");
        return vmState;
    }

    /**
     * A migration's destination, while the pages arrive: the VM just built (its vCPUs set up as for a boot) is
     * captured and loaded back through the code the real state will take, which finds a host that cannot load a
     * state before the source pauses its VM, and has that code run warm when the downtime counts (in the lab its
     * first run took 300 ms, most of the destination's part). The real state then overwrites all of it. A failure
     * is logged, not thrown: the real load reports its own.
     */
    private static void rehearse(String origin, Kvm kvm, VmFd vm, GuestMemory mem, List<Vcpu> vcpus, Platform platform,
            DeviceManager devices, List<DeviceManager.Saved> saved, List<CpuidEntry> supported,
            dev.jvmm.irq.IrqRouter router) {
        long t0 = System.nanoTime();
        try {
            for (Vcpu v : vcpus) {
                setUpFresh(v.fd(), supported, v.id(), vcpus.size());
            }
            byte[] own = StateFile.encode(VmSnapshot.state(kvm, vm, mem, vcpus, platform, devices, true));
            VmSnapshot.Restore r = new VmSnapshot.Restore(StateFile.decode(own, "the rehearsal"), null,
                    "the rehearsal of the restore", true);
            r.awaitState();
            loadState(r, vcpus.size(), kvm, vm, mem, vcpus, platform, devices, saved, router);
            log.info("{}: rehearsed loading a state into this VM in {} ms ({})", origin,
                    (System.nanoTime() - t0) / 1_000_000, r.laps());
        } catch (RuntimeException | dev.jvmm.sys.state.StateFormatException e) {
            log.warn("{}: rehearsing the state's load failed: {} (the real load follows)", origin, e.getMessage());
        }
    }

    /**
     * Plugs the saved devices back where they were: each disk from the saved config's disks in order, each NIC of a
     * {@code --nic} from that NIC, the other NICs in order. Their state is loaded later ({@link #restoreStates}).
     */
    private static List<DeviceManager.Saved> plugSavedDevices(VmConfig cfg, VmSnapshot.Restore restore,
            DeviceManager devices) {
        java.util.Map<DeviceManager.Kind, Integer> next = new java.util.EnumMap<>(DeviceManager.Kind.class);
        List<DeviceManager.Saved> saved = restore.devices(next);
        long nDisks = saved.stream().filter(s -> s.kind() == DeviceManager.Kind.DISK).count();
        long nNets = saved.stream().filter(s -> s.kind() == DeviceManager.Kind.NET).count();
        boolean savedVsock = saved.stream().anyMatch(s -> s.kind() == DeviceManager.Kind.VSOCK);
        if (savedVsock != (cfg.extras().vsock() != null)) {
            throw new VmmException(VmmException.Reason.CONFIG, restore.origin() + ": the saved VM has "
                    + (savedVsock ? "a vsock device; the config gives none (add --vsock cid=N)"
                            : "no vsock device; the config gives one (drop --vsock)"));
        }
        if (nDisks != cfg.disks().size() || nNets != cfg.nets().size() || !cfg.vfio().isEmpty()) {
            throw new VmmException(VmmException.Reason.CONFIG, restore.origin() + ": the saved VM has " + nDisks
                    + " disk(s) and " + nNets + " NIC(s); the config gives " + cfg.disks().size() + " and "
                    + cfg.nets().size() + (cfg.vfio().isEmpty() ? "" : " and passed-through functions")
                    + " (override a NIC's host side with --net, one per saved NIC)");
        }
        for (DeviceManager.Kind k : new DeviceManager.Kind[] {DeviceManager.Kind.RNG, DeviceManager.Kind.CONSOLE}) {
            long n = saved.stream().filter(s -> s.kind() == k).count();
            boolean configured = (k == DeviceManager.Kind.RNG ? cfg.extras().rng() : cfg.extras().console()) != null;
            if (n != (configured ? 1 : 0)) {
                throw new VmmException(VmmException.Reason.CONFIG, restore.origin() + ": the saved VM has " + n + " "
                        + k.prefix() + " device(s); the config gives " + (configured ? 1 : 0) + " ("
                        + (k == DeviceManager.Kind.RNG ? "--rng" : "--virtio-console, --console-port") + ")");
            }
        }
        // a NIC of a --nic goes back to that NIC's device (the config lists those after the plain --net ones); the
        // disks and the other NICs in their order
        List<NetConfig> plain = new ArrayList<>();
        java.util.Map<String, NetConfig> ofNic = new java.util.HashMap<>();
        for (NetConfig n : cfg.nets()) {
            if (n.label() != null && n.label().startsWith("--nic ")) {
                ofNic.put(n.label().substring(6), n);
            } else {
                plain.add(n);
            }
        }
        if (cfg.extras().balloon() != null && saved.stream().noneMatch(s -> s.kind() == DeviceManager.Kind.BALLOON)) {
            throw new VmmException(VmmException.Reason.CONFIG, restore.origin() + ": the config has a balloon, the saved "
                    + "VM has none (a balloon cannot be added to a saved VM)");
        }
        int disk = 0, net = 0;
        for (DeviceManager.Saved s : saved) {
            Object c;
            if (s.kind() == DeviceManager.Kind.BALLOON) {
                c = cfg.extras().balloon();
                if (c == null) {
                    throw new VmmException(VmmException.Reason.CONFIG, restore.origin() + ": the saved VM has a balloon "
                            + "(" + s.id() + "); the config gives none");
                }
            } else if (s.kind() == DeviceManager.Kind.DISK) {
                c = cfg.disks().get(disk++);
            } else if (s.kind() == DeviceManager.Kind.VSOCK) {
                c = cfg.extras().vsock(); // the destination's CID (it may differ: the guest is told to re-read it)
            } else if (s.kind() == DeviceManager.Kind.RNG) {
                c = cfg.extras().rng();
            } else if (s.kind() == DeviceManager.Kind.CONSOLE) {
                c = cfg.extras().console();
            } else if (s.nic() != null && ofNic.containsKey(s.nic())) {
                c = ofNic.remove(s.nic());
            } else if (net < plain.size()) {
                c = plain.get(net++);
            } else {
                throw new VmmException(VmmException.Reason.CONFIG, restore.origin() + ": saved NIC " + s.id()
                        + (s.nic() == null ? "" : " (--nic " + s.nic() + ")") + " has no NIC in the config to go with"
                        + " it (--nic NICs match by id)");
            }
            devices.restore(s, c);
        }
        devices.setNextIndexes(next);
        return saved;
    }

    /**
     * Loads the platform devices', the host bridge's and each plugged device's state (guest RAM is restored by now:
     * queues check their rings against it).
     */
    private static void restoreStates(VmSnapshot.Restore restore, List<DeviceManager.Saved> saved,
            DeviceManager devices, Platform platform) {
        for (java.util.Map.Entry<String, dev.jvmm.core.state.Snapshottable> e : platform.devices().entrySet()) {
            restore.restore(e.getKey(), e.getValue());
        }
        restore.laps().lap("platform");
        for (DeviceManager.Saved s : saved) {
            restore.restore(s.id(), devices.get(s.id()).transport());
            restore.laps().lap(s.id());
        }
    }

    /** What the ACPI tables of a VM of {@code cfg} describe. */
    private static AcpiTables.Platform acpiPlatform(VmConfig cfg) {
        return new AcpiTables.Platform(cfg.cpus(), Layout.IOAPIC, Layout.LAPIC,
                Layout.ECAM_START, (int) (Layout.ECAM_SIZE >> 20) - 1, Layout.MMIO32_START, Layout.MMIO32_SIZE,
                new Layout(cfg.memory()).mmio64Start(), Layout.MMIO64_SIZE, PowerDevice.SLEEP_CONTROL,
                PowerDevice.SLEEP_STATUS, PowerDevice.RESET, PowerDevice.RESET_VALUE, Serial16550.COM1,
                Serial16550.COM1_IRQ, PvPanic.PORT, GedDevice.PORT, GedDevice.GSI, PciHotplugController.PORT);
    }

    /** Tables built by {@link #buildAcpiAhead}, taken by the next cold boot whose platform they describe. */
    private static final java.util.concurrent.atomic.AtomicReference<AheadTables> AHEAD =
            new java.util.concurrent.atomic.AtomicReference<>();

    /** The tables for {@code cpus} vCPUs and {@code memory} bytes of RAM, what the platform depends on. */
    private record AheadTables(int cpus, long memory, List<AcpiTables.Table> tables) {
    }

    /**
     * Builds the ACPI tables of a VM of {@code cfg} now, for the next {@link #build} of a cold boot of the same
     * platform to take instead of building them (once; any other build ignores them). {@code jvmm launch} calls it
     * while another thread binds libc and probes /dev/kvm, taking the tables' generation (AML, interpreted at that
     * point: ~9 ms on a host) off the path to the first KVM_RUN (docs/performance.md).
     */
    public static void buildAcpiAhead(VmConfig cfg) {
        AHEAD.set(new AheadTables(cfg.cpus(), cfg.memory(), AcpiTables.build(acpiPlatform(cfg), Layout.ACPI_START)));
    }

    /** Writes the ACPI tables, the kernel and initrd, the boot page tables and the reset vector: a cold boot. */
    private static BootEntry loadGuest(VmConfig cfg, Layout layout, GuestMemory mem) {
        // not the Platform records' equals: its first call bootstraps record equality (method handles: ~10 ms)
        AheadTables ahead = AHEAD.getAndSet(null);
        List<AcpiTables.Table> tables = ahead != null && ahead.cpus() == cfg.cpus() && ahead.memory() == cfg.memory()
                ? ahead.tables() : AcpiTables.build(acpiPlatform(cfg), Layout.ACPI_START);
        for (AcpiTables.Table t : tables) {
            if (t.address() + t.bytes().length > Layout.ACPI_END) {
                throw new VmmException(VmmException.Reason.INTERNAL, "ACPI tables overflow the 0xE0000 area");
            }
            mem.write(t.address(), t.bytes());
        }
        step("ACPI tables written");
        BootEntry entry = KernelLoader.load(mem, layout, cfg.kernel(), cfg.initrd(), cfg.cmdline(), Layout.ACPI_START);
        CpuBoot.writeTables(mem, entry.mode());
        mem.write(Layout.BIOS_RESET_VECTOR, CpuBoot.resetVectorCode(PowerDevice.RESET, PowerDevice.RESET_VALUE));
        step("kernel and initrd loaded");
        return entry;
    }

    private static final BusDevice SINK = new BusDevice() {
        @Override
        public long read(long offset, int size) {
            return 0xff;
        }

        @Override
        public void write(long offset, int size, long value) {
        }
    };

    static void setMsrs(VcpuFd fd) {
        long[][] msrs = {
            {MSR_IA32_SYSENTER_CS, 0}, {MSR_IA32_SYSENTER_ESP, 0}, {MSR_IA32_SYSENTER_EIP, 0},
            {MSR_STAR, 0}, {MSR_CSTAR, 0}, {MSR_KERNEL_GS_BASE, 0}, {MSR_SYSCALL_MASK, 0}, {MSR_LSTAR, 0},
            {MSR_IA32_TSC, 0},
            {MSR_IA32_MISC_ENABLE, 1}, // fast string operations
            {MSR_MTRR_DEF_TYPE, 1 << 11 | 6}, // MTRRs enabled, default type write-back
        };
        try {
            fd.setMsrs(msrs);
        } catch (ErrnoException e) {
            // Some hosts refuse one of them (e.g. MISC_ENABLE on AMD under some nested setups): set one by one.
            for (long[] m : msrs) {
                try {
                    fd.setMsrs(new long[][] {m});
                } catch (ErrnoException x) {
                    log.debug("vcpu {}: MSR 0x{} not settable: {}", fd.id(), Long.toHexString(m[0]), x.getMessage());
                }
            }
        }
    }

    /** LAPIC LVT LINT0 = ExtINT (the PIC), LINT1 = NMI, as firmware leaves them. */
    static void setLint(VcpuFd fd) {
        byte[] regs = fd.getLapic();
        putLvt(regs, APIC_LVT_LINT0, APIC_MODE_EXTINT);
        putLvt(regs, APIC_LVT_LINT1, APIC_MODE_NMI);
        fd.setLapic(regs);
    }

    private static void putLvt(byte[] regs, int off, int mode) {
        int v = (regs[off] & 0xff) | (regs[off + 1] & 0xff) << 8 | (regs[off + 2] & 0xff) << 16 | (regs[off + 3] & 0xff) << 24;
        v = (v & ~0x700) | mode << 8;
        regs[off] = (byte) v;
        regs[off + 1] = (byte) (v >> 8);
        regs[off + 2] = (byte) (v >> 16);
        regs[off + 3] = (byte) (v >> 24);
    }
}

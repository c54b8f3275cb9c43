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
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.devices.DeviceManager;
import dev.jvmm.vmm.devices.GedDevice;
import dev.jvmm.vmm.devices.I8042;
import dev.jvmm.vmm.devices.PciHotplugController;
import dev.jvmm.vmm.devices.PowerDevice;
import dev.jvmm.vmm.devices.PvPanic;
import dev.jvmm.vmm.devices.Serial16550;
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
        return ResourceStack.building(res -> build(cfg, console, res, extensions));
    }

    /** Debug log of a build step with the milliseconds since the process started (start-up time work). */
    private static void step(String what) {
        StartupTrace.mark(what);
        if (log.isDebugEnabled()) {
            long ms = ProcessHandle.current().info().startInstant()
                    .map(t -> java.time.Duration.between(t, java.time.Instant.now()).toMillis()).orElse(-1L);
            log.debug("+{} ms since process start: {}", ms, what);
        }
    }

    private static Vm build(VmConfig cfg, Console console, ResourceStack res, List<VmExtension> extensions) {
        step("building the VM");
        // VFIO devices are checked first, from sysfs: a device that cannot be passed through is named before KVM,
        // guest RAM or any fd is touched
        dev.jvmm.vmm.devices.VfioDevices.preflight(cfg.vfio());
        Kvm kvm;
        try {
            kvm = res.push(Kvm.open());
        } catch (ErrnoException e) {
            throw new VmmException(VmmException.Reason.HOST, "cannot open " + Kvm.DEV_KVM
                    + " (is KVM enabled and are you in the kvm group?)", e);
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
        GuestMemory mem = res.push(GuestMemory.create(ranges));
        mem.registerSlots(vm::setUserMemoryRegion, 0);
        step("VM, irqchip, PIT and " + (cfg.memory() >> 20) + " MiB of RAM set up");

        AcpiTables.Platform platform = new AcpiTables.Platform(cfg.cpus(), Layout.IOAPIC, Layout.LAPIC,
                Layout.ECAM_START, (int) (Layout.ECAM_SIZE >> 20) - 1, Layout.MMIO32_START, Layout.MMIO32_SIZE,
                layout.mmio64Start(), Layout.MMIO64_SIZE, PowerDevice.SLEEP_CONTROL, PowerDevice.SLEEP_STATUS,
                PowerDevice.RESET, PowerDevice.RESET_VALUE, Serial16550.COM1, Serial16550.COM1_IRQ, PvPanic.PORT,
                GedDevice.PORT, GedDevice.GSI, PciHotplugController.PORT);
        List<AcpiTables.Table> tables = AcpiTables.build(platform, Layout.ACPI_START);
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

        CompletableFuture<VmExit> exit = new CompletableFuture<>();
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
                level -> vm.irqLine(Serial16550.COM1_IRQ, level ? 1 : 0),
                line -> {
                    if (line.contains(PANIC_MARKER)) {
                        exit.complete(new VmExit(VmExit.Kind.PANIC, "guest kernel panic: "
                                + line.substring(line.indexOf(PANIC_MARKER)).trim()));
                    }
                });
        console.setInput(serial::receive);
        pio.register(Serial16550.COM1, 8, serial, "serial-com1");
        pio.register(I8042.DATA_PORT, 5, new I8042(events), "i8042");
        pio.register(PowerDevice.PORT, PowerDevice.LENGTH, new PowerDevice(events), "acpi-power");
        pio.register(PvPanic.PORT, 1, new PvPanic(() -> exit.complete(new VmExit(VmExit.Kind.PANIC,
                "guest kernel panic (reported by the guest's pvpanic driver)"))), "pvpanic");
        PciRootBus pci = new PciRootBus(0);
        pci.add(new PciHostBridge(), 0, 0);
        pio.register(PciRootBus.CONFIG_ADDRESS_PORT, PciRootBus.CONFIG_PORTS, pci.configPorts(), "pci-conf1");
        mmio.register(Layout.ECAM_START, Layout.ECAM_SIZE, pci.ecam(), "pci-ecam");
        pio.register(0x80, 1, SINK, "post-code");
        pio.register(0xed, 1, SINK, "io-delay");
        // one KVM_SET_GSI_ROUTING table for virtio and VFIO MSI-X vectors, also those of hot-added devices
        dev.jvmm.irq.IrqRouter router = res.push(new dev.jvmm.irq.IrqRouter(vm));
        // one allocator for the MMIO32 window: virtio BARs, then VFIO BARs, then whatever extensions ask for
        dev.jvmm.core.AddressAllocator mmio32 = new dev.jvmm.core.AddressAllocator("mmio32", Layout.MMIO32_START,
                Layout.MMIO32_SIZE);
        DeviceManager devices = res.push(new DeviceManager(vm, mem, pio, mmio, pci, router, mmio32));
        // the ACPI GED (power button, PCI hotplug events) and the hotplug controller whose _EJ0 frees a device
        GedDevice ged = new GedDevice(level -> vm.irqLine(GedDevice.GSI, level ? 1 : 0));
        pio.register(GedDevice.PORT, GedDevice.LENGTH, ged, "acpi-ged");
        PciHotplugController hotplug = new PciHotplugController(ged, devices::ejected);
        pio.register(PciHotplugController.PORT, PciHotplugController.LENGTH, hotplug, "pci-hotplug");
        devices.setHotplug(hotplug);
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
            fd.setCpuid(Cpuid.forVcpu(supported, i, cfg.cpus()));
            setMsrs(fd);
            fd.setFpu(0x37f, 0x1f80);
            setLint(fd);
            if (i == 0) {
                CpuBoot.setEntryState(fd, entry);
            }
        }
        step("vcpus set up");
        log.debug("VM built: {} MiB, {} vcpu(s), {}", cfg.memory() >> 20, cfg.cpus(), entry.description());
        return new Vm(vm, mem, pio, mmio, pci, vcpus, serial, entry, res, exit, devices, ged);
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

package dev.jvmm.vmm;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.kvm.CpuCompatibility;
import dev.jvmm.sys.kvm.Kvm;
import dev.jvmm.sys.kvm.StateLimits;
import dev.jvmm.sys.kvm.VcpuState;
import dev.jvmm.sys.kvm.VmState;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.vmm.config.ConfigLoader;
import dev.jvmm.vmm.config.DiskConfig;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.devices.DeviceManager;
import dev.jvmm.vmm.snapshot.StateFile;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A VM's state as sections of a {@link StateFile}, and back: guest RAM's layout ("memory"), the in-kernel
 * irqchip, PIT and clock ("vm"), each vCPU ("vcpu.N"), the platform devices, the host bridge, which PCI device is
 * where ("devices"), and each device's transport and device state (its id). {@link #capture} runs on a paused VM
 * whose device threads are quiesced; {@link Restore} is applied by {@link VmBuilder} while it builds the VM again
 * from the saved configuration, in the order KVM needs.
 */
public final class VmSnapshot {
    /** "JVDV": the "devices" section. */
    private static final int DEVICES_MAGIC = 0x4A564456;
    /**
     * 3: each device's kind, and the next index of each kind, named by the kind's prefix ({@code virtio-rng}), so
     * that kinds can be added without changing the format. (2: kinds by ordinal of DISK, NET, VFIO; each device also
     * names the {@code --nic} it belongs to. Read still.)
     */
    private static final int DEVICES_VERSION = 3;
    private static final int DEVICES_VERSION_ORDINALS = 2;
    /** "JVMR": the "memory" section. */
    private static final int MEMORY_MAGIC = 0x4A564D52;

    private VmSnapshot() {
    }

    /** What {@link #capture} took: the state sections and the config file of the VM as it is now. */
    public record Captured(Map<String, byte[]> sections, String configJson) {
    }

    /**
     * Takes the state of {@code vm}, which must be paused with its virtio devices quiesced. CONFLICT when the VM has
     * a device whose state cannot be saved (a passed-through function, a failover pair).
     */
    public static Captured capture(Vm vm, VmConfig cfg) {
        String json = config(vm, cfg);
        return new Captured(state(vm), json);
    }

    /**
     * The state sections of {@code vm}, which must be paused with its virtio devices quiesced (a migration's
     * switch-over: its config went ahead). CONFLICT as {@link #capture}.
     */
    public static Map<String, byte[]> state(Vm vm) {
        return state(vm.kvm(), vm.vmFd(), vm.memory(), vm.vcpus(), vm.platform(), vm.devices(), true);
    }

    /** As {@link #state(Vm)}, from the parts of a VM; {@code vcpus}: whether to read the vCPUs (out of KVM_RUN). */
    static Map<String, byte[]> state(Kvm kvm, dev.jvmm.sys.kvm.VmFd vmFd, GuestMemory mem, List<Vcpu> vcpus,
            Platform platform, DeviceManager devices, boolean readVcpus) {
        List<DeviceManager.Saved> saved = devices.saved();
        Map<String, byte[]> sections = new LinkedHashMap<>();
        sections.put("memory", StateFile.section(out -> {
            StateCodec.header(out, MEMORY_MAGIC, 1);
            List<GuestMemory.Region> regions = mem.regions();
            out.writeInt(regions.size());
            for (GuestMemory.Region r : regions) {
                out.writeLong(r.guestPhysAddr());
                out.writeLong(r.size());
            }
        }));
        VmState vmState = VmState.capture(vmFd);
        sections.put("vm", StateFile.section(vmState::write));
        if (readVcpus) {
            int xsave = vmFd.xsaveSize();
            for (Vcpu v : vcpus) {
                VcpuState s = VcpuState.capture(v.fd(), kvm, xsave);
                sections.put("vcpu." + v.id(), StateFile.section(s::write));
            }
        }
        for (Map.Entry<String, Snapshottable> e : platform.devices().entrySet()) {
            sections.put(e.getKey(), StateFile.section(e.getValue()::saveState));
        }
        sections.put("devices", layout(devices, saved));
        for (DeviceManager.Saved s : saved) {
            sections.put(s.id(), StateFile.section(devices.get(s.id()).transport()::saveState));
        }
        return sections;
    }

    /**
     * Runs the code of {@link #state(Vm)} once on the running VM and drops what it read, so that a migration's
     * switch-over, which runs it with the VM paused, runs it warm: its classes loaded and linked and its first-use
     * costs paid before the downtime starts (in the lab the first capture took 100 ms). The devices are read while
     * they run (their saveState only reads); the vCPUs, which cannot be read in KVM_RUN, are stood in for by the vCPU
     * of a scratch VM. Never throws: a failure here is the switch-over's to report.
     */
    public static void warmUp(Vm vm) {
        try {
            Map<String, byte[]> sections = state(vm.kvm(), vm.vmFd(), vm.memory(), vm.vcpus(), vm.platform(),
                    vm.devices(), false);
            // a vCPU of a VM of its own stands in for the running ones: reading it runs the same code
            try (dev.jvmm.sys.kvm.VmFd scratch = vm.kvm().createVm()) {
                scratch.createIrqchip();
                try (dev.jvmm.sys.kvm.VcpuFd v = scratch.createVcpu(0)) {
                    VcpuState s = VcpuState.capture(v, vm.kvm(), scratch.xsaveSize());
                    sections.put("vcpu.0", StateFile.section(s::write));
                }
            }
            StateFile.decode(StateFile.encode(sections), "warm-up");
        } catch (RuntimeException | StateFormatException e) {
            org.slf4j.LoggerFactory.getLogger(VmSnapshot.class).debug("warming up the state capture: {}", e.toString());
        }
    }

    /**
     * Where the VM's devices are (the state's "devices" section): a migration sends it ahead, so that the destination
     * plugs them while the pages arrive. Refuses a VM that cannot be saved, as {@link #capture} does.
     */
    public static byte[] layout(Vm vm) {
        return layout(vm.devices(), vm.devices().saved());
    }

    private static byte[] layout(DeviceManager devices, List<DeviceManager.Saved> saved) {
        return StateFile.section(out -> {
            StateCodec.header(out, DEVICES_MAGIC, DEVICES_VERSION);
            out.writeInt(saved.size());
            for (DeviceManager.Saved s : saved) {
                StateCodec.string(out, s.id());
                StateCodec.string(out, s.kind().prefix());
                out.writeInt(s.slot());
                out.writeLong(s.bar0());
                out.writeBoolean(s.hot());
                StateCodec.string(out, s.nic() == null ? "" : s.nic());
            }
            Map<DeviceManager.Kind, Integer> next = devices.nextIndexes();
            out.writeInt(DeviceManager.Kind.values().length);
            for (DeviceManager.Kind k : DeviceManager.Kind.values()) {
                StateCodec.string(out, k.prefix());
                out.writeInt(next.getOrDefault(k, 0));
            }
        });
    }

    /**
     * The config file of {@code vm} as it is now (its devices in plug order, hot-added ones included, each NIC with
     * its MAC). CONFLICT when the VM has a device whose state cannot be saved.
     */
    public static String config(Vm vm, VmConfig cfg) {
        List<DiskConfig> disks = new ArrayList<>();
        List<NetConfig> nets = new ArrayList<>();
        dev.jvmm.vmm.config.VirtioExtras extras = cfg.extras().withRng(null).withConsole(null);
        for (DeviceManager.Saved s : vm.devices().saved()) {
            Object c = vm.devices().get(s.id()).config();
            if (c instanceof DiskConfig d) {
                disks.add(d);
            } else if (c instanceof dev.jvmm.vmm.config.RngConfig r) {
                extras = extras.withRng(r);
            } else if (c instanceof dev.jvmm.vmm.config.VirtioConsoleConfig v) {
                extras = extras.withConsole(v);
            } else if (c instanceof NetConfig n) {
                nets.add(n);
            } // the balloon and vsock are in cfg.extras() as they are
        }
        return ConfigLoader.write(cfg, disks, nets, extras);
    }

    /**
     * A saved state to build a VM from: its sections (checked whole by {@link StateFile#decode}), read further as
     * the VM is built. Errors name the section and field.
     */
    public static final class Restore {
        private Map<String, byte[]> sections;
        private final java.nio.file.Path memoryFile;
        private final String origin;
        private final boolean resume;
        private final GuestMemory memory;
        /** A migration's: where the devices are, known before the state (null: from the state). */
        private final byte[] layout;
        /** A migration's state, still arriving (null: {@link #sections} is here). */
        private final java.util.concurrent.CompletableFuture<Map<String, byte[]>> pending;
        /** A migration's: told when the build fails, before anything is freed (it stops the transfer into RAM). */
        private final java.util.function.Consumer<RuntimeException> onFailure;
        /** A migration's: told when the VM is built and waits for nothing but the state. */
        private final Runnable onBuilt;
        private boolean builtTold;
        /** The steps from the state's arrival to the VM's start (made when the build has the state). */
        private Laps laps;

        /**
         * @param memoryFile the guest RAM image to map privately, or null when RAM arrives another way
         * @param resume     let the vCPUs run once the VM is built (else it waits, paused, for a resume)
         */
        public Restore(Map<String, byte[]> sections, java.nio.file.Path memoryFile, String origin, boolean resume) {
            this(sections, memoryFile, origin, resume, null);
        }

        /**
         * @param memory guest RAM already filled (an incoming migration), which the VM takes over (it is closed with
         *               the VM, or when the build fails); null: RAM is made, from {@code memoryFile} if given
         */
        public Restore(Map<String, byte[]> sections, java.nio.file.Path memoryFile, String origin, boolean resume,
                GuestMemory memory) {
            this.sections = sections;
            this.memoryFile = memoryFile;
            this.origin = origin;
            this.resume = resume;
            this.memory = memory;
            this.layout = null;
            this.pending = null;
            this.onFailure = null;
            this.onBuilt = null;
        }

        /**
         * A migration's restore, made while its pages and state still arrive into {@code memory}: the VM is built
         * and its devices plugged from {@code layout} (HELLO's), then the build waits for {@code state} (completed
         * exceptionally with a VmmException when the transfer fails) before it loads anything from it; it tells
         * {@code onBuilt} when it starts to wait. If the build fails, {@code onFailure} is told before the build
         * frees anything: it must stop writing into {@code memory}.
         */
        public Restore(byte[] layout, java.util.concurrent.CompletableFuture<Map<String, byte[]>> state, String origin,
                GuestMemory memory, Runnable onBuilt, java.util.function.Consumer<RuntimeException> onFailure) {
            this.sections = null;
            this.memoryFile = null;
            this.origin = origin;
            this.resume = true;
            this.memory = memory;
            this.layout = layout;
            this.pending = state;
            this.onFailure = onFailure;
            this.onBuilt = onBuilt;
        }

        /** The build from this restore failed with {@code e}; nothing is freed yet. */
        void buildFailed(RuntimeException e) {
            if (onFailure != null) {
                onFailure.accept(e);
            }
        }

        /**
         * Waits for the state (a migration's: until its last pages and the state have arrived; at once otherwise).
         * The devices must be where the layout said.
         */
        void awaitState() {
            if (onBuilt != null && !builtTold) {
                builtTold = true;
                onBuilt.run();
            }
            if (sections != null) {
                if (laps == null) {
                    laps = new Laps();
                }
                return;
            }
            Map<String, byte[]> got;
            try {
                got = pending.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VmmException(VmmException.Reason.INTERNAL, origin + ": interrupted while waiting for the state");
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof VmmException v) {
                    throw v;
                }
                throw new VmmException(VmmException.Reason.INTERNAL, origin + ": " + e.getCause(), e.getCause());
            }
            if (!java.util.Arrays.equals(got.get("devices"), layout)) {
                throw new VmmException(VmmException.Reason.CONFIG, origin + ": the devices in the state are not where "
                        + "the migration's start said (was a device added or removed during the migration?)");
            }
            sections = got;
            laps = new Laps();
        }

        /**
         * The steps of loading the state, from its arrival (a migration's) or the build's use of it, to be ended by
         * the caller that starts the VM; null before the state is here.
         */
        public Laps laps() {
            return laps;
        }

        /** Whether this is a migration's restore whose state has not arrived yet. */
        boolean stateArriving() {
            return sections == null && pending != null && !pending.isDone();
        }

        private Map<String, byte[]> sections() {
            awaitState();
            return sections;
        }

        /** Guest RAM that arrived already filled, or null. */
        public GuestMemory memory() {
            return memory;
        }

        public boolean resume() {
            return resume;
        }

        public java.nio.file.Path memoryFile() {
            return memoryFile;
        }

        public String origin() {
            return origin;
        }

        /** Checks that the saved RAM layout is the one this VM has ({@code memory} of the config). */
        void checkMemory(GuestMemory mem) {
            call(() -> {
                StateCodec.Reader r = StateFile.section(sections(), "memory");
                r.header(MEMORY_MAGIC, 1);
                int n = r.count("regions", 16);
                List<GuestMemory.Region> have = mem.regions();
                if (n != have.size()) {
                    throw r.bad("regions", n + " RAM regions saved, this VM has " + have.size()
                            + " (was the memory size changed?)");
                }
                for (int i = 0; i < n; i++) {
                    long gpa = r.readLong("region[" + i + "].gpa");
                    long size = r.readLong("region[" + i + "].size");
                    if (gpa != have.get(i).guestPhysAddr() || size != have.get(i).size()) {
                        throw r.bad("region[" + i + "]", String.format("saved 0x%x+0x%x, this VM has 0x%x+0x%x", gpa,
                                size, have.get(i).guestPhysAddr(), have.get(i).size()));
                    }
                }
            });
        }

        /** The saved devices, in plug order, and the next index of each kind. */
        List<DeviceManager.Saved> devices(Map<DeviceManager.Kind, Integer> next) {
            List<DeviceManager.Saved> out = new ArrayList<>();
            call(() -> {
                StateCodec.Reader r = StateFile.section(layout != null ? Map.of("devices", layout) : sections(), "devices");
                boolean ordinals = devicesHeader(r);
                int n = r.count("count", DeviceManager.LAST_SLOT);
                DeviceManager.Kind[] kinds = DeviceManager.Kind.values();
                for (int i = 0; i < n; i++) {
                    String f = "device[" + i + "]";
                    String id = r.string(f + ".id", 32);
                    DeviceManager.Kind kind = ordinals ? kinds[r.readInt(f + ".kind", 0, 2)]
                            : kind(r, f + ".kind", r.string(f + ".kind", 64));
                    int slot = r.readInt(f + ".slot", DeviceManager.FIRST_SLOT, DeviceManager.LAST_SLOT);
                    long bar0 = r.readLong(f + ".bar0");
                    boolean hot = r.readBoolean(f + ".hot");
                    String nic = r.string(f + ".nic", 64);
                    if (!id.matches(java.util.regex.Pattern.quote(kind.prefix()) + "-[0-9]{1,4}")) {
                        throw r.bad(f + ".id", "\"" + id + "\" is not a " + kind.prefix() + " id");
                    }
                    if (kind == DeviceManager.Kind.VFIO) {
                        throw r.bad(f + ".kind", "a passed-through function cannot be restored");
                    }
                    out.add(new DeviceManager.Saved(id, kind, slot, bar0, hot, nic.isEmpty() ? null : nic));
                }
                if (ordinals) {
                    for (int k = 0; k < 3; k++) { // DISK, NET, VFIO
                        next.put(kinds[k], r.readInt("next_index." + kinds[k].prefix(), 0, 10_000));
                    }
                } else {
                    int m = r.count("next_index.count", 64);
                    for (int i = 0; i < m; i++) {
                        String prefix = r.string("next_index[" + i + "].kind", 64);
                        int v = r.readInt("next_index." + prefix, 0, 10_000);
                        for (DeviceManager.Kind k : kinds) {
                            if (k.prefix().equals(prefix)) {
                                next.put(k, v);
                            }
                        }
                        // a kind this jvmm does not know, with no device saved: nothing to number
                    }
                }
                for (DeviceManager.Kind k : kinds) {
                    next.putIfAbsent(k, 0); // a kind the state does not name had no device yet
                }
            });
            return out;
        }

        /** The "devices" header; true for format 2 (kinds by ordinal). */
        private static boolean devicesHeader(StateCodec.Reader r) throws IOException {
            int m = r.readInt("magic");
            if (m != DEVICES_MAGIC) {
                throw r.bad("magic", String.format("0x%08x is not a devices section (0x%08x)", m, DEVICES_MAGIC));
            }
            int v = r.readInt("version");
            if (v != DEVICES_VERSION && v != DEVICES_VERSION_ORDINALS) {
                throw r.bad("version", "format version " + v + " is not supported (this jvmm reads versions "
                        + DEVICES_VERSION_ORDINALS + " and " + DEVICES_VERSION + ")");
            }
            return v == DEVICES_VERSION_ORDINALS;
        }

        private static DeviceManager.Kind kind(StateCodec.Reader r, String field, String prefix)
                throws StateFormatException {
            for (DeviceManager.Kind k : DeviceManager.Kind.values()) {
                if (k.prefix().equals(prefix)) {
                    return k;
                }
            }
            throw r.bad(field, "\"" + prefix + "\" is not a kind of device this jvmm knows");
        }

        /** Restores a platform device or PCI function from its section. */
        void restore(String section, Snapshottable s) {
            call(() -> s.restoreState(StateFile.section(sections(), section)));
        }

        /** The VM-wide KVM state (PIT, clock, irqchips). */
        VmState vm() {
            return call(() -> VmState.read(new java.io.DataInputStream(new java.io.ByteArrayInputStream(bytes("vm")))));
        }

        /**
         * vCPU {@code id}'s state, after checking that this host's KVM can give the CPU it describes (every CPUID
         * feature and MSR it uses).
         */
        VcpuState vcpu(int id, Kvm kvm) {
            VcpuState s = call(() -> VcpuState.read(new java.io.DataInputStream(new java.io.ByteArrayInputStream(
                    bytes("vcpu." + id))), StateLimits.DEFAULT));
            if (s.vcpuId() != id) {
                throw new VmmException(VmmException.Reason.CONFIG, origin + ": section vcpu." + id + " holds vcpu "
                        + s.vcpuId());
            }
            List<String> problems = CpuCompatibility.problems(s.cpuid(), kvm.offeredCpuid(), s.msrs(),
                    kvm.msrIndexList());
            if (!problems.isEmpty()) {
                throw new VmmException(VmmException.Reason.HOST, origin + ": this host's CPU cannot run the saved "
                        + "vcpu " + id + ": " + String.join("; ", problems));
            }
            return s;
        }

        /** The number of saved vCPUs. */
        int vcpuCount() {
            int n = 0;
            while (sections().containsKey("vcpu." + n)) {
                n++;
            }
            return n;
        }

        private byte[] bytes(String name) throws StateFormatException {
            byte[] b = sections().get(name);
            if (b == null) {
                throw new StateFormatException("saved state", name, "the section is missing", null);
            }
            return b;
        }

        private interface Step<T> {
            T run() throws IOException;
        }

        private interface VoidStep {
            void run() throws IOException;
        }

        private void call(VoidStep s) {
            call(() -> {
                s.run();
                return null;
            });
        }

        private <T> T call(Step<T> s) {
            try {
                return s.run();
            } catch (IOException e) {
                throw new VmmException(VmmException.Reason.CONFIG, origin + ": " + e.getMessage(), e);
            }
        }
    }
}

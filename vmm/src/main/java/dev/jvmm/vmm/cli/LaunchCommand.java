package dev.jvmm.vmm.cli;

import dev.jvmm.vmm.VmExit;
import dev.jvmm.vmm.VmRunner;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.VmBuilder;
import dev.jvmm.vmm.config.ConfigLoader;
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.nic.NicPlan;
import dev.jvmm.vmm.nic.NicPlanner;
import dev.jvmm.vmm.nic.NicWiring;
import dev.jvmm.vmm.nic.PassthroughReadiness;
import dev.jvmm.vmm.nic.PoolView;
import dev.jvmm.vmm.nic.SysfsPool;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jvmm launch}: boots a Linux kernel in a KVM VM (docs/launch.md). Parses, then delegates to {@link VmRunner}. */
@Command(name = "launch", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Boot a Linux kernel (bzImage, or vmlinux with a PVH note) in a KVM VM.",
            "Exit status: 0 guest powered off (or reset with --on-reboot=exit), 1 jvmm failed,",
            "2 bad configuration, 3 the guest crashed (panic, triple fault, KVM internal error)."})
public final class LaunchCommand implements Callable<Integer> {
    /** Exit status when the guest crashed. */
    public static final int EXIT_GUEST_CRASH = 3;
    public static final int EXIT_CONFIG = 2;

    @Option(names = "--kernel", paramLabel = "FILE", description = "bzImage, or an ELF vmlinux with a PVH entry note")
    String kernel;
    @Option(names = "--initrd", paramLabel = "FILE", description = "initramfs")
    String initrd;
    @Option(names = "--cmdline", paramLabel = "TEXT", description = "kernel command line (default: "
            + VmConfig.DEFAULT_CMDLINE + ")")
    String cmdline;
    @Option(names = {"--memory", "-m"}, paramLabel = "SIZE", description = "guest RAM, e.g. 512M or 2G (default 512M)")
    String memory;
    @Option(names = "--cpus", paramLabel = "N", description = "vCPUs (default 1)")
    String cpus;
    @Option(names = "--console", paramLabel = "SPEC", description = "the serial console (16550, ttyS0): stdio "
            + "(default), none, file=PATH or socket=PATH")
    String console;
    @Option(names = "--virtio-console", paramLabel = "SPEC", description = "a virtio console, the guest's hvc0, next to "
            + "the serial: stdio, file=PATH or socket=PATH (not stdio while --console is)")
    String virtioConsole;
    @Option(names = "--console-port", paramLabel = "SPEC", description = "a named virtio-console port on a unix socket "
            + "jvmm listens on (repeatable): name=NAME,socket=PATH")
    java.util.List<String> consolePorts;
    @Option(names = "--rng", paramLabel = "SPEC", arity = "0..1", fallbackValue = "", description = "a virtio-rng "
            + "entropy device: [source=/dev/urandom][,max-bytes=N[,period-ms=1000]]")
    String rng;
    @Option(names = "--on-reboot", paramLabel = "ACTION", description = "exit (default) or restart")
    String onReboot;
    @Option(names = "--disk", paramLabel = "SPEC", description = "virtio-blk disk (repeatable): "
            + "path=FILE[,readonly=on][,cache=none|writeback|writethrough|unsafe][,id=SERIAL][,queues=N]"
            + "[,aio=threads|io_uring|auto]")
    java.util.List<String> disks;
    @Option(names = "--net", paramLabel = "SPEC", description = "virtio-net NIC on a TAP (repeatable): "
            + "[tap=NAME][,mac=52:54:00:12:34:56][,queues=N][,vhost=on|off|auto]")
    java.util.List<String> nets;
    @Option(names = "--device", paramLabel = "SPEC", description = "host PCI function passed through with VFIO "
            + "(repeatable): vfio=0000:01:10.0 (bound to vfio-pci; see docs/vfio.md)")
    java.util.List<String> devices;
    @Option(names = "--nic", paramLabel = "SPEC", description = "a NIC that is an SR-IOV VF, virtio-net, or whichever "
            + "the host allows (repeatable; docs/launch.md): [id=eth0][,mode=auto|passthrough|virtio]"
            + "[,pf=NAME|vf=BDF][,mac=MAC][,vlan=N[,qos=N]][,spoofchk=on|off][,trust=on|off][,rate=MBPS]"
            + "[,tap=NAME|macvtap=on|bridge=NAME][,queues=N]")
    java.util.List<String> nics;
    @Option(names = "--vsock", paramLabel = "SPEC", description = "virtio-vsock served by the host's vhost-vsock: "
            + "cid=N (the guest's context id, 3..4294967294, unique on the host; see docs/virtio.md)")
    java.util.List<String> vsock; // a list only to stay off the quick parser's table: one is allowed
    @Option(names = "--balloon", paramLabel = "SPEC", arity = "0..1", fallbackValue = "", description = "a virtio "
            + "memory balloon (docs/virtio.md): [size=128M][,free-page-reporting=on][,deflate-on-oom=on][,stats=SECONDS]")
    java.util.List<String> balloon; // a list only so that the bare flag goes to picocli, not the quick path; one at most
    @Option(names = "--migratable", description = "the VM must stay migratable: no NIC becomes a passed-through VF")
    boolean migratable;
    @Option(names = "--dry-run", description = "validate, print what each --nic becomes and why, start nothing")
    boolean dryRun;
    @Option(names = "--json", description = "with --dry-run: print the NIC plan as JSON (schema in docs/launch.md)")
    boolean json;
    @Option(names = "--config", paramLabel = "FILE", description = "a JSON config file (CLI options override it)")
    Path config;
    @Option(names = "--stats", paramLabel = "FILE", description = "at exit, write the VM's exits to userspace as JSON "
            + "(per vCPU and reason, per device and BAR; docs/launch.md)")
    Path stats;
    @Option(names = "--api-socket", paramLabel = "PATH", description = "serve the control API (HTTP/JSON, 'jvmm remote')"
            + " on a unix socket at PATH, mode 0600 (docs/api.md)")
    String apiSocket;
    @Option(names = "--restore", paramLabel = "DIR[,resume=on]", description = "bring back the VM a snapshot saved in "
            + "DIR (its config comes from DIR; options given here override it); paused unless resume=on (docs/snapshot.md)")
    String restore;
    @Option(names = "--incoming", paramLabel = "SPEC", description = "receive a live migration at unix:PATH or "
            + "tcp:HOST:PORT[,tls-dir=DIR][,insecure=on]: the VM's config comes with it (options given here override "
            + "it) (docs/snapshot.md)")
    String incoming;
    @Option(names = "--debug", description = "print stack traces on errors")
    boolean debug;
    /** {@code --libvirt FILE [--lenient]}: options from a libvirt domain XML (a mixin: see its class). */
    @CommandLine.Mixin
    dev.jvmm.vmm.libvirt.LibvirtOptions libvirt = new dev.jvmm.vmm.libvirt.LibvirtOptions();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Tests' seam: whether passthrough is ready for a VM of this much RAM; null: the probe ({@link PassthroughReadiness#host}). */
    java.util.function.LongFunction<PassthroughReadiness> readiness;
    /** Tests' seam: the VF pool as the NIC planner sees it; null: sysfs ({@link SysfsPool#host}). */
    PoolView pool;
    /** The VF pool launch takes leases from (null: the host's, {@code /run/jvmm/leases}); a test sets a fake one. */
    java.util.function.Supplier<dev.jvmm.sriov.VfPool> vfPoolFactory;

    /**
     * {@code jvmm launch} without building the whole {@code jvmm} command tree: the launcher script execs this for
     * its {@code launch} subcommand, because building picocli's model of every subcommand by reflection is most of
     * a cold JVM's start-up (seconds inside the lab's emulated host). Same options, errors and exit codes.
     */
    public static void main(String[] args) {
        dev.jvmm.vmm.StartupTrace.mark("main entered");
        System.exit(run(args));
    }

    /** {@link #main} without the exit: the launch's exit status. */
    static int run(String[] args) {
        dev.jvmm.vmm.log.StderrLoggerProvider.install();
        LaunchCommand quick = quickParse(args);
        dev.jvmm.vmm.StartupTrace.mark("options parsed");
        if (quick != null) {
            return quick.callReportingErrors();
        }
        CommandLine cl = new CommandLine(new LaunchCommand());
        cl.setCommandName("jvmm launch");
        cl.setExecutionExceptionHandler(new ErrorHandler());
        return cl.execute(args);
    }

    /**
     * The common case without picocli's model (building it costs seconds in the lab's emulated host): every
     * argument an {@code --option value} or {@code --option=value} of this class's {@link Option} fields, or
     * {@code --debug}. Anything else (help, version, an unknown or incomplete option) returns null, and picocli
     * parses the arguments and reports what is wrong, so behaviour and messages stay picocli's.
     */
    static LaunchCommand quickParse(String[] args) {
        LaunchCommand c = new LaunchCommand();
        int seen = 0;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            int eq = a.startsWith("--") ? a.indexOf('=') : -1;
            String name = eq > 0 ? a.substring(0, eq) : a;
            int opt = quickOption(name);
            if (opt < 0 || (seen & 1 << opt) != 0) {
                return null;
            }
            seen |= 1 << opt;
            if (opt >= QUICK_DEBUG) { // a flag
                if (eq > 0) {
                    return null;
                }
                switch (opt) {
                    case QUICK_DEBUG -> c.debug = true;
                    case QUICK_DEBUG + 1 -> c.migratable = true;
                    case QUICK_DEBUG + 2 -> c.dryRun = true;
                    default -> c.json = true;
                }
                continue;
            }
            String v;
            if (eq > 0) {
                v = a.substring(eq + 1);
            } else if (opt == QUICK_RNG) { // its value is optional: a bare --rng, or one before another option
                v = i + 1 < args.length && !args[i + 1].startsWith("-") ? args[++i] : "";
            } else if (i + 1 < args.length) {
                v = args[++i];
            } else {
                return null;
            }
            switch (opt) {
                case 0 -> c.kernel = v;
                case 1 -> c.initrd = v;
                case 2 -> c.cmdline = v;
                case 3 -> c.memory = v;
                case 4 -> c.cpus = v;
                case 5 -> c.console = v;
                case 6 -> c.onReboot = v;
                case 7, 8 -> {
                    Path p;
                    try {
                        p = Path.of(v);
                    } catch (RuntimeException e) {
                        return null; // picocli reports the bad path
                    }
                    if (opt == 7) {
                        c.config = p;
                    } else {
                        c.stats = p;
                    }
                }
                case 9 -> c.apiSocket = v;
                case 10 -> c.restore = v;
                case 11 -> c.incoming = v;
                case QUICK_RNG -> c.rng = v;
                case 13 -> c.virtioConsole = v;
                default -> {
                    return null;
                }
            }
        }
        return c;
    }

    /**
     * The single-valued options and then the flags ({@code --debug} first) of the fast path, by the index
     * {@link #quickParse} switches on.
     * A plain table, not the {@link Option} annotations read by reflection: that costs annotation parsing, dynamic
     * proxies and picocli classes that the AppCDS archive cannot hold (class file version 49). LaunchCommandTest
     * checks that it matches the annotations.
     */
    static final String[][] QUICK_OPTIONS = {{"--kernel"}, {"--initrd"}, {"--cmdline"}, {"--memory", "-m"},
        {"--cpus"}, {"--console"}, {"--on-reboot"}, {"--config"}, {"--stats"}, {"--api-socket"}, {"--restore"},
        {"--incoming"}, {"--rng"}, {"--virtio-console"}, {"--debug"}, {"--migratable"}, {"--dry-run"}, {"--json"}};
    /** {@code --rng}, whose value is optional. */
    static final int QUICK_RNG = 12;
    /** The first flag. */
    static final int QUICK_DEBUG = 14;

    /** The host's VF pool; a test sets {@link #vfPoolFactory} instead. */
    private dev.jvmm.sriov.VfPool vfPool() {
        return vfPoolFactory != null ? vfPoolFactory.get() : dev.jvmm.sriov.VfPool.system();
    }

    private void say(String line) {
        java.io.PrintWriter err = spec != null ? spec.commandLine().getErr() : new java.io.PrintWriter(System.err);
        err.println(line);
        err.flush();
    }

    /** What each {@code --nic} becomes, and why ({@link NicPlanner}); asks the probe only if a NIC could be a VF. */
    private List<NicPlan> planNics(VmConfig cfg) {
        java.util.function.LongFunction<PassthroughReadiness> r = readiness != null ? readiness : PassthroughReadiness::host;
        try (dev.jvmm.sriov.VfPool leases = pool != null ? null : vfPool()) {
            return NicPlanner.plan(cfg.nics(), cfg.migratable(), () -> r.apply(cfg.memory()),
                    pool != null ? pool : new dev.jvmm.vmm.nic.LeasedPool(SysfsPool.host(), leases));
        } catch (VmmException e) {
            throw new ExitCodeException(e.reason() == VmmException.Reason.CONFIG ? EXIT_CONFIG : ErrorHandler.EXIT_FAILURE,
                    e.getMessage(), null);
        }
    }

    /**
     * The run with the control API ({@code --api-socket}): kept apart so that a launch without it loads no API class.
     * NICs added through the API are planned as {@code --nic} is, against the same readiness and pool.
     */
    private VmExit runWithApi(VmConfig cfg, NicWiring.Wired wired, List<NicPlan> plans, String holder,
            VmRunner.Lifecycle life, dev.jvmm.vmm.VmSnapshot.Restore restore,
            java.util.function.Function<String, dev.jvmm.sriov.VfPool.Lease> laterLeases) {
        java.util.function.LongFunction<PassthroughReadiness> r = readiness != null ? readiness : PassthroughReadiness::host;
        java.util.function.Function<List<dev.jvmm.vmm.config.NicConfig>, List<NicPlan>> planner = nics -> {
            try (dev.jvmm.sriov.VfPool leases = pool != null ? null : vfPool()) {
                return NicPlanner.plan(nics, cfg.migratable(), () -> r.apply(cfg.memory()),
                        pool != null ? pool : new dev.jvmm.vmm.nic.LeasedPool(SysfsPool.host(), leases));
            }
        };
        dev.jvmm.vmm.api.VmController control = new dev.jvmm.vmm.api.VmController(wired.config(), plans, planner,
                this::vfPool, holder, id -> wired.lease(id) != null ? wired.lease(id) : laterLeases.apply(id));
        try (dev.jvmm.vmm.api.ApiLaunch api = new dev.jvmm.vmm.api.ApiLaunch(Path.of(apiSocket), control, life)) {
            return VmRunner.run(wired.config(), restore, api);
        }
    }

    /**
     * A restored or migrated VM runs: each failover pair whose plan found a VF takes one from the pool now and has it
     * plugged as its primary (by the runner, once this returns); a pair that gets none runs on its standby.
     */
    private void leasePrimaries(dev.jvmm.vmm.Vm vm, List<NicPlan> plans, dev.jvmm.sriov.VfPool pool, String holder,
            dev.jvmm.vmm.ResourceStack owned, java.util.Map<String, dev.jvmm.sriov.VfPool.Lease> leases) {
        for (NicPlan p : plans) {
            if (p.choice() != NicPlan.Choice.FAILOVER || !p.takesVf()) {
                continue;
            }
            try {
                dev.jvmm.sriov.VfPool.Lease l = owned.push(NicWiring.lease(p, pool, holder, line -> say("jvmm: " + line)));
                leases.put(p.id(), l);
                vm.devices().setFailoverPrimary(p.id(), new dev.jvmm.vmm.config.VfioConfig(l.vf().toString(),
                        dev.jvmm.vmm.config.VfioConfig.Iommu.AUTO, true, p.id()));
                say("jvmm: " + p.id() + ": took VF " + l.vf() + " (VF " + l.index() + " of " + l.pfNetdev()
                        + ") as the failover primary of the restored VM");
            } catch (RuntimeException e) {
                say("jvmm: " + p.id() + ": no failover primary here (" + e.getMessage() + "); the standby carries the "
                        + "traffic");
            }
        }
    }

    /**
     * {@code --restore DIR[,resume=on]}: the snapshot, checked (files present, state intact), before anything else.
     * A restored VM that stays paused needs the control API to be resumed.
     */
    private dev.jvmm.vmm.snapshot.SnapshotDir.Opened openSnapshot() {
        String[] parts = restore.split(",", -1);
        boolean resume = false;
        for (int i = 1; i < parts.length; i++) {
            switch (parts[i].trim().toLowerCase(java.util.Locale.ROOT)) {
                case "resume=on", "resume=true", "resume" -> resume = true;
                case "resume=off", "resume=false" -> resume = false;
                default -> throw new VmmException(VmmException.Reason.CONFIG, "--restore: '" + parts[i]
                        + "' is not resume=on|off");
            }
        }
        if (parts[0].isBlank()) {
            throw new VmmException(VmmException.Reason.CONFIG, "--restore needs the snapshot's directory");
        }
        if (config != null) {
            throw new VmmException(VmmException.Reason.CONFIG, "--restore takes the config from the snapshot: "
                    + "--config cannot go with it (override single options instead)");
        }
        if (!resume && apiSocket == null) {
            throw new VmmException(VmmException.Reason.CONFIG, "--restore " + parts[0] + ": a restored VM waits, paused, "
                    + "for 'jvmm remote resume': give --api-socket, or resume=on");
        }
        return dev.jvmm.vmm.snapshot.SnapshotDir.open(Path.of(parts[0]), resume);
    }

    private static int quickOption(String name) {
        for (int i = 0; i < QUICK_OPTIONS.length; i++) {
            for (String n : QUICK_OPTIONS[i]) {
                if (n.equals(name)) {
                    return i;
                }
            }
        }
        return -1;
    }

    /** {@link #call()} with {@link ErrorHandler}'s report format and exit codes. */
    int callReportingErrors() {
        try {
            return call();
        } catch (RuntimeException e) {
            return ErrorHandler.report(e, new java.io.PrintWriter(System.err, true), debug);
        }
    }

    @Override
    public Integer call() {
        if (libvirt.given()) { // the XML's options and these, parsed again into this command, which then runs
            return libvirt.launch(spec, this::call);
        }
        if (json && !dryRun) {
            throw new ExitCodeException(EXIT_CONFIG, "--json goes with --dry-run (without it, stdout is the guest's "
                    + "console)", null);
        }
        if (stats != null) {
            // checked before the VM is built, so a typo does not cost a whole run and then the counts
            Path dir = stats.toAbsolutePath().getParent();
            if (dir == null || !java.nio.file.Files.isDirectory(dir) || !java.nio.file.Files.isWritable(dir)) {
                throw new ExitCodeException(EXIT_CONFIG, "--stats " + stats + ": the directory " + dir
                        + (dir != null && java.nio.file.Files.isDirectory(dir) ? " is not writable" : " does not exist"), null);
            }
        }
        if (apiSocket != null) {
            // the rest (a live socket there, a file that is not a socket) is checked when the server starts
            Path dir = Path.of(apiSocket).toAbsolutePath().getParent();
            if (dir == null || !java.nio.file.Files.isDirectory(dir)) {
                throw new ExitCodeException(EXIT_CONFIG, "--api-socket " + apiSocket + ": the directory " + dir
                        + " does not exist", null);
            }
        }
        // libc bound (jffi's first use, ~13 ms of the JVM's on a host) and /dev/kvm probed on a thread of their own,
        // while this one reads the config and builds the ACPI tables ahead (docs/performance.md, "Start-up")
        java.util.concurrent.FutureTask<Integer> probe = new java.util.concurrent.FutureTask<>(VmBuilder::maxVcpus);
        Thread prober = new Thread(probe, "kvm-probe");
        prober.setDaemon(true);
        prober.start();
        VmConfig cfg;
        dev.jvmm.vmm.snapshot.SnapshotDir.Opened restored = null;
        dev.jvmm.vmm.migration.MigrationReceiver rx = null;
        try {
            if (restore != null) {
                restored = openSnapshot();
            }
            if (incoming != null) {
                if (restore != null || config != null) {
                    throw new VmmException(VmmException.Reason.CONFIG, "--incoming takes the VM's config from the "
                            + "migration: --restore and --config cannot go with it");
                }
                dev.jvmm.vmm.migration.Endpoint.parse(incoming, "--incoming"); // a typo fails before the warm-up
                dev.jvmm.vmm.migration.IncomingWarmUp.run(); // before it listens, as QEMU's is built before it does
                rx = dev.jvmm.vmm.migration.MigrationReceiver.accept(incoming, java.time.Duration.ofDays(1),
                        line -> say("jvmm: " + line));
            }
            ConfigLoader.Raw raw = ConfigLoader.fromCli(kernel, initrd, cmdline, memory, cpus, console, onReboot);
            dev.jvmm.vmm.config.DeviceSpecs.fromCli(raw, disks, nets); // --disk / --net
            dev.jvmm.vmm.config.DeviceSpecs.devicesFromCli(raw, devices); // --device (VFIO)
            dev.jvmm.vmm.config.DeviceSpecs.nicsFromCli(raw, nics, migratable); // --nic, --migratable
            dev.jvmm.vmm.config.DeviceSpecs.vsockFromCli(raw, vsock); // --vsock
            if (balloon != null && !balloon.isEmpty()) { // --balloon
                if (balloon.size() > 1) {
                    throw new VmmException(VmmException.Reason.CONFIG, "--balloon: given " + balloon.size()
                            + " times; a VM has one balloon");
                }
                raw.balloon = dev.jvmm.vmm.config.DeviceSpecs.balloonCli(balloon.get(0));
            }
            dev.jvmm.vmm.config.DeviceSpecs.extrasFromCli(raw, rng, virtioConsole, consolePorts);
            if (config != null) {
                ConfigLoader.readFile(config, raw);
            } else if (restored != null) {
                ConfigLoader.readFile(restored.config(), raw);
            } else if (rx != null) {
                ConfigLoader.readText(rx.config(), "the migration's config", raw);
            }
            if (restored == null && rx == null) {
                buildAcpiAhead(raw);
            }
            int maxVcpus = join(probe);
            dev.jvmm.vmm.StartupTrace.mark("libc bound, /dev/kvm probed");
            cfg = ConfigLoader.validate(raw, maxVcpus);
            dev.jvmm.vmm.StartupTrace.mark("configuration validated");
        } catch (VmmException e) {
            if (rx != null) {
                rx.fail(e.reason(), e.getMessage(), e);
                rx.close();
            }
            throw new ExitCodeException(EXIT_CONFIG, e.getMessage(), null);
        }
        if (rx == null) {
            return launch(cfg, restored, null);
        }
        try (dev.jvmm.vmm.migration.MigrationReceiver in = rx) {
            return launch(cfg, null, in);
        }
    }

    /**
     * The ACPI tables of the VM {@code raw} describes, built while the probe runs ({@link VmBuilder#buildAcpiAhead}).
     * A config that does not validate is left alone: the validation with the host's vCPU limit reports it.
     */
    private static void buildAcpiAhead(ConfigLoader.Raw raw) {
        try {
            VmBuilder.buildAcpiAhead(ConfigLoader.validate(raw, 255));
            dev.jvmm.vmm.StartupTrace.mark("ACPI tables built ahead");
        } catch (VmmException e) {
            // reported below
        }
    }

    /** The probe's answer; what it threw, thrown here. */
    private static int join(java.util.concurrent.FutureTask<Integer> probe) {
        try {
            return probe.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmmException(VmmException.Reason.INTERNAL, "interrupted while /dev/kvm was probed", e);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /**
     * Plans and wires the NICs, then runs the VM: booted, restored from {@code restored}, or built from what the
     * migration {@code rx} brings (a migrated VM's NICs are virtio-net, failover pairs included: this host's pool
     * gives each pair its primary). Everything taken is given back when the VM ends or fails.
     */
    private int launch(VmConfig cfg, dev.jvmm.vmm.snapshot.SnapshotDir.Opened restored,
            dev.jvmm.vmm.migration.MigrationReceiver rx) {
        List<NicPlan> plans;
        try {
            if (rx != null && !cfg.vfio().isEmpty()) {
                throw new ExitCodeException(EXIT_CONFIG, "a migrated VM has no passed-through functions (no --device)",
                        null);
            }
            plans = cfg.nics().isEmpty() ? List.of() : planNics(cfg);
            if (rx != null && plans.stream().anyMatch(p -> p.choice() == NicPlan.Choice.PASSTHROUGH)) {
                throw new ExitCodeException(EXIT_CONFIG, "a migrated VM's NICs are virtio-net (or failover pairs): "
                        + plans.stream().filter(p -> p.choice() == NicPlan.Choice.PASSTHROUGH).findFirst().get().line(), null);
            }
        } catch (ExitCodeException e) {
            if (rx != null) {
                throw new ExitCodeException(e.exitCode(), "--incoming: " + rx.fail(VmmException.Reason.CONFIG,
                        e.getMessage(), null).getMessage(), null);
            }
            throw e;
        }
        if (dryRun) {
            java.io.PrintWriter out = spec != null ? spec.commandLine().getOut() : new java.io.PrintWriter(System.out);
            if (json) {
                out.print(NicPlanner.json(plans));
            } else {
                plans.forEach(p -> out.println(p.line()));
            }
            out.flush();
            return 0;
        }
        plans.forEach(p -> say("jvmm: " + p.line())); // on stderr: stdout is the guest's console
        VmExit exit;
        boolean passthrough = plans.stream().anyMatch(NicPlan::takesVf);
        // a signal must not end the JVM before the VFs are given back and the macvtaps deleted: this hook waits for
        // the teardown below
        java.util.concurrent.CountDownLatch released = new java.util.concurrent.CountDownLatch(1);
        Thread waitForRelease = new Thread(() -> {
            try {
                released.await(60, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }, "nic-release");
        boolean holdsHostResources = !plans.isEmpty() || apiSocket != null; // the API may add NICs
        if (holdsHostResources) {
            Runtime.getRuntime().addShutdownHook(waitForRelease);
        }
        String holder = "jvmm pid " + ProcessHandle.current().pid();
        boolean[] started = {false};
        // a restored or migrated VM's failover pairs take their primaries once it runs
        boolean primariesLater = restored != null || rx != null;
        List<NicPlan> now = primariesLater ? plans.stream().map(p -> p.choice() == NicPlan.Choice.FAILOVER
                ? p.primaryLater() : p).toList() : plans;
        java.util.Map<String, dev.jvmm.sriov.VfPool.Lease> laterLeases = new java.util.concurrent.ConcurrentHashMap<>();
        try (dev.jvmm.sriov.VfPool vfPool = passthrough ? vfPool() : null;
             NicWiring.Wired wired = NicWiring.wire(cfg, now, vfPool, holder, line -> say("jvmm: " + line));
             dev.jvmm.vmm.ResourceStack later = new dev.jvmm.vmm.ResourceStack()) {
            Path statsFile = stats;
            VmRunner.Lifecycle own = new VmRunner.Lifecycle() {
                @Override
                public void started(dev.jvmm.vmm.Vm vm) {
                    if (primariesLater && !started[0]) {
                        leasePrimaries(vm, plans, vfPool, holder, later, laterLeases);
                    }
                    started[0] = true;
                }

                @Override
                public void stopped(dev.jvmm.vmm.Vm vm) {
                    if (statsFile != null) {
                        dev.jvmm.vmm.VmStats.write(vm, statsFile);
                    }
                }
            };
            // the migration's source learns when the VM runs here
            VmRunner.Lifecycle life = rx != null ? rx.lifecycle(own) : own;
            dev.jvmm.vmm.VmSnapshot.Restore from = restored != null ? restored.restore()
                    : rx != null ? rx.receive(wired.config()) : null;
            if (apiSocket == null) {
                exit = VmRunner.run(wired.config(), from, life);
            } else {
                exit = runWithApi(cfg, wired, plans, holder, life, from, laterLeases::get);
            }
        } catch (VmmException e) {
            if (rx != null && !started[0]) {
                rx.fail(e.reason(), e.getMessage(), e); // the source resumes its VM
            }
            throw new ExitCodeException(e.reason() == VmmException.Reason.CONFIG ? EXIT_CONFIG : ErrorHandler.EXIT_FAILURE,
                    (rx != null ? "incoming migration failed: " : "launch failed: ") + e.getMessage(), e.getCause());
        } catch (dev.jvmm.sriov.SriovException e) {
            throw new ExitCodeException(ErrorHandler.EXIT_FAILURE, "launch failed: releasing a VF: " + e.getMessage(),
                    e.getCause());
        } finally {
            released.countDown();
            if (holdsHostResources) {
                try {
                    Runtime.getRuntime().removeShutdownHook(waitForRelease);
                } catch (IllegalStateException shuttingDown) {
                    // the hook runs: it has just been let go
                }
            }
        }
        return exitCode(exit);
    }

    /** The launch's exit status for how the VM ended: 0 for a power-off, a reset or a completed migration. */
    static int exitCode(VmExit exit) {
        switch (exit.kind()) {
            case POWEROFF, RESET, MIGRATED -> {
                System.err.println("jvmm: " + exit.message());
                return 0;
            }
            case PANIC, TRIPLE_FAULT, KVM_ERROR -> throw new ExitCodeException(EXIT_GUEST_CRASH, exit.message(), null);
            default -> throw new ExitCodeException(ErrorHandler.EXIT_FAILURE, exit.message(), null);
        }
    }
}

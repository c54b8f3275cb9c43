package dev.jvmm.vmm.cli;

import dev.jvmm.sriov.PoolReport;
import dev.jvmm.sriov.PoolState;
import dev.jvmm.sriov.SriovApply;
import dev.jvmm.sriov.SriovException;
import dev.jvmm.sriov.SriovManager;
import dev.jvmm.sriov.SriovReport;
import dev.jvmm.sriov.SriovSpec;
import dev.jvmm.sriov.VfNetConfig;
import dev.jvmm.sriov.VfPool;
import dev.jvmm.sys.pci.DriverBinder;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jvmm sriov}: SR-IOV VF management; parses options and delegates to {@code dev.jvmm.sriov}. */
@Command(name = "sriov", mixinStandardHelpOptions = true,
        description = "Create, configure, bind and reconcile SR-IOV VFs (see docs/sriov.md).",
        subcommands = {SriovCommand.ListCmd.class, SriovCommand.Create.class, SriovCommand.Destroy.class,
                SriovCommand.SetCmd.class, SriovCommand.Bind.class, SriovCommand.Unbind.class, SriovCommand.Apply.class,
                SriovCommand.Reset.class, SriovCommand.Leases.class, SriovCommand.Reconcile.class})
public final class SriovCommand implements Callable<Integer> {
    /** The host the commands act on; tests put a fake one here. */
    static Supplier<SriovManager> manager = SriovManager::system;
    /** The VF pools of that host; tests use a fake /proc and a temporary lease directory. */
    static Function<SriovManager, VfPool> pools = m -> new VfPool(m, VfPool.DEFAULT_LEASE_DIR);

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(System.out);
        return 0;
    }

    /** Runs {@code f} with a manager for the host; bad user input becomes exit code 2. */
    static String run(Function<SriovManager, String> f) {
        return with(f);
    }

    /** {@link #run} for a result other than the text to print. */
    static <T> T with(Function<SriovManager, T> f) {
        try (SriovManager m = manager.get()) {
            return f.apply(m);
        } catch (SriovException e) {
            if (e.reason() == SriovException.Reason.INVALID_ARGUMENT) {
                throw new ExitCodeException(2, e.getMessage(), e.getCause());
            }
            throw e;
        } catch (PciException e) {
            if (e.reason() == PciException.Reason.BAD_ADDRESS) {
                throw new ExitCodeException(2, e.getMessage(), e.getCause());
            }
            throw SriovException.of(e);
        } catch (IllegalArgumentException e) {
            throw new ExitCodeException(2, e.getMessage(), e);
        }
    }

    static Duration duration(String s) {
        Matcher m = Pattern.compile("(\\d+)(ms|s|m)?").matcher(s.trim());
        if (!m.matches()) {
            throw new ExitCodeException(2, "timeout '" + s + "' (expected e.g. 30s, 500ms, 2m)", null);
        }
        long n = Long.parseLong(m.group(1));
        String u = m.group(2) == null ? "s" : m.group(2);
        return u.equals("ms") ? Duration.ofMillis(n) : u.equals("m") ? Duration.ofMinutes(n) : Duration.ofSeconds(n);
    }

    static boolean onOff(String opt, String v) {
        return switch (v) {
            case "on" -> true;
            case "off" -> false;
            default -> throw new ExitCodeException(2, opt + " '" + v + "' (expected on or off)", null);
        };
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "PFs and their VFs (BDF, driver, IOMMU group, netdev, MAC, VLAN, ...).")
    static final class ListCmd implements Callable<Integer> {
        @Option(names = "--json", description = "machine-readable output")
        boolean json;

        @Override
        public Integer call() {
            String out = run(m -> json ? SriovReport.json(m.list()) : SriovReport.text(m.list()));
            System.out.print(out);
            return 0;
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create N VFs on a PF (through 0 if it has another count).")
    static final class Create implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "PF", description = "PCI address (0000:01:00.0) or interface name")
        String pf;
        @Parameters(index = "1", paramLabel = "N")
        int n;
        @Option(names = "--autoprobe", paramLabel = "on|off", description = "sriov_drivers_autoprobe before creating (off: no host driver grabs the VFs)")
        String autoprobe;
        @Option(names = "--timeout", defaultValue = "30s", description = "how long to wait for the VFs and netdevs (default ${DEFAULT-VALUE})")
        String timeout;

        @Override
        public Integer call() {
            Boolean auto = autoprobe == null ? null : onOff("--autoprobe", autoprobe);
            Duration t = duration(timeout);
            String out = run(m -> {
                PciAddress a = m.resolve(pf);
                boolean changed = m.setNumVfs(a, n, auto, t);
                return (changed ? "" : "unchanged: ") + SriovReport.text(java.util.List.of(m.pf(a)));
            });
            System.out.print(out);
            return 0;
        }
    }

    @Command(name = "destroy", mixinStandardHelpOptions = true, description = "Remove all VFs of a PF.")
    static final class Destroy implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "PF")
        String pf;
        @Option(names = "--timeout", defaultValue = "30s")
        String timeout;

        @Override
        public Integer call() {
            Duration t = duration(timeout);
            System.out.println(run(m -> {
                PciAddress a = m.resolve(pf);
                return m.destroy(a, t) ? a + ": VFs removed" : a + ": had no VFs";
            }));
            return 0;
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true, description = "Set VF network settings over rtnetlink, one attribute per request.")
    static final class SetCmd implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "PF")
        String pf;
        @Parameters(index = "1", paramLabel = "VF", description = "VF index")
        int vf;
        @Option(names = "--mac")
        String mac;
        @Option(names = "--vlan", description = "0..4095, 0 removes the tag")
        Integer vlan;
        @Option(names = "--qos", description = "802.1p priority 0..7")
        Integer qos;
        @Option(names = "--proto", paramLabel = "802.1Q|802.1ad")
        String proto;
        @Option(names = "--spoofchk", paramLabel = "on|off")
        String spoofchk;
        @Option(names = "--trust", paramLabel = "on|off")
        String trust;
        @Option(names = "--link-state", paramLabel = "auto|enable|disable")
        String linkState;
        @Option(names = "--min-tx-rate", paramLabel = "MBPS")
        Integer minTxRate;
        @Option(names = "--max-tx-rate", paramLabel = "MBPS")
        Integer maxTxRate;

        @Override
        public Integer call() {
            String out = run(m -> {
                VfNetConfig cfg = new VfNetConfig(mac, vlan, qos, proto, spoofchk == null ? null : onOff("--spoofchk", spoofchk),
                        trust == null ? null : onOff("--trust", trust), linkState, minTxRate, maxTxRate);
                if (cfg.isEmpty()) {
                    throw new SriovException(SriovException.Reason.INVALID_ARGUMENT, "nothing to set: give at least one of --mac, --vlan, --spoofchk, --trust, --link-state, --min-tx-rate, --max-tx-rate");
                }
                PciAddress a = m.resolve(pf);
                var sent = m.configureVf(a, vf, cfg);
                StringBuilder b = new StringBuilder();
                for (var s : sent) {
                    b.append("set ").append(s.kernelName()).append(' ').append(s.describe()).append('\n');
                }
                if (sent.isEmpty()) {
                    b.append("unchanged: VF ").append(vf).append(" already has these settings\n");
                }
                return b.append("now: ").append(m.readVf(a, vf)).append('\n').toString();
            });
            System.out.print(out);
            return 0;
        }
    }

    @Command(name = "bind", mixinStandardHelpOptions = true, description = "Bind a device to a driver via driver_override (default vfio-pci).")
    static final class Bind implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "BDF")
        String bdf;
        @Option(names = "--driver", defaultValue = "vfio-pci")
        String driver;

        @Override
        public Integer call() {
            System.out.println(run(m -> {
                PciAddress a = PciAddress.parse(bdf);
                DriverBinder.Binding before = m.bind(a, driver);
                return a + ": bound to " + driver + " (was " + (before.driver() == null ? "unbound" : before.driver()) + ")";
            }));
            return 0;
        }
    }

    @Command(name = "unbind", mixinStandardHelpOptions = true, description = "Give a device back to its host driver (clears driver_override).")
    static final class Unbind implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "BDF")
        String bdf;

        @Override
        public Integer call() {
            System.out.println(run(m -> {
                String d = m.unbind(PciAddress.parse(bdf));
                return bdf + ": " + (d == null ? "no host driver matched; left unbound" : "bound to host driver " + d);
            }));
            return 0;
        }
    }

    @Command(name = "apply", mixinStandardHelpOptions = true, description = "Apply a spec file: idempotent, rolled back on failure, recorded for reset.")
    static final class Apply implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "SPEC.json")
        Path file;
        @Option(names = "--state-dir", description = "where apply records live (default $JVMM_STATE_DIR/sriov or /var/lib/jvmm/sriov)")
        Path stateDir;
        @Option(names = "--timeout", defaultValue = "60s")
        String timeout;

        @Override
        public Integer call() {
            String text;
            try {
                text = Files.readString(file);
            } catch (IOException e) {
                throw new ExitCodeException(2, "cannot read spec " + file + ": " + e.getMessage(), e);
            }
            Duration t = duration(timeout);
            String out = run(m -> {
                SriovSpec s = SriovSpec.parse(text);
                SriovApply ap = applier(m, stateDir, t);
                StringBuilder b = new StringBuilder(recovered(ap.recover()));
                var reports = ap.apply(s);
                for (var r : reports) {
                    b.append(r.pf()).append(r.changed() ? ": applied" : ": unchanged").append('\n');
                    r.actions().forEach(x -> b.append("  ").append(x).append('\n'));
                    r.notes().forEach(x -> b.append("  note: ").append(x).append('\n'));
                }
                return b.toString();
            });
            System.out.print(out);
            return 0;
        }
    }

    @Command(name = "reset", mixinStandardHelpOptions = true, description = "Undo apply on a PF: restore the state recorded before jvmm's first apply.")
    static final class Reset implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "PF")
        String pf;
        @Option(names = "--state-dir")
        Path stateDir;
        @Option(names = "--timeout", defaultValue = "60s")
        String timeout;

        @Override
        public Integer call() {
            Duration t = duration(timeout);
            System.out.println(run(m -> {
                PciAddress a = m.resolve(pf);
                SriovApply ap = applier(m, stateDir, t);
                String rec = recovered(ap.recover());
                var before = ap.reset(a);
                return rec + a + ": reset to " + before.numVfs() + " VFs, autoprobe " + (before.autoprobe() ? "on" : "off");
            }));
            return 0;
        }
    }

    /** Declarative apply on this host; tests put a temporary journal directory and a fake /proc here. */
    static Appliers appliers = SriovApply::system;

    /** How the commands make a {@link SriovApply}. */
    interface Appliers {
        SriovApply of(SriovManager m, Path stateDir, Duration timeout);
    }

    private static SriovApply applier(SriovManager m, Path stateDir, Duration t) {
        return appliers.of(m, stateDir == null ? SriovApply.defaultStateDir() : stateDir, t);
    }

    /** A line per interrupted apply that {@link SriovApply#recover} found; a failed rollback is an error. */
    private static String recovered(List<SriovApply.Recovered> rs) {
        StringBuilder b = new StringBuilder();
        for (SriovApply.Recovered r : rs) {
            if (!r.ok()) {
                throw r.failure();
            }
            b.append(r).append('\n');
        }
        return b.toString();
    }

    /** Prints {@code text} on the command's standard output (where tests can read it). */
    private static void print(CommandLine.Model.CommandSpec spec, String text) {
        spec.commandLine().getOut().print(text);
        spec.commandLine().getOut().flush();
    }

    /** A command on VF pools: one PF's, or every pool's, with {@code --json}. */
    abstract static class OnPools implements Callable<Integer> {
        @Parameters(index = "0", arity = "0..1", paramLabel = "PF",
                description = "PCI address or interface name; default: every PF with VFs or leases")
        String pf;
        @Option(names = "--json", description = "machine-readable output (schema in docs/sriov.md)")
        boolean json;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
    }

    @Command(name = "leases", mixinStandardHelpOptions = true,
            description = "VF pools (docs/sriov.md): per PF its VFs, each free, leased (holder, pid, settings), stale"
                    + " (the holder is gone) or in use through VFIO without a lease.")
    static final class Leases extends OnPools {
        @Override
        public Integer call() {
            print(spec, run(m -> {
                VfPool p = pools.apply(m);
                List<PoolState> s = pf == null ? p.states() : List.of(p.state(pf));
                return json ? PoolReport.json(s) : PoolReport.text(s);
            }));
            return 0;
        }
    }

    /** Deletes the macvtaps of jvmm processes that are gone; tests put a fake here. */
    static Supplier<List<String>> staleMacvtaps = dev.jvmm.vmm.devices.NetBackends::sweepStaleMacvtaps;

    @Command(name = "reconcile", mixinStandardHelpOptions = true,
            description = "Put the host right after a jvmm was killed (SIGKILL, a crash): roll back an apply that was"
                    + " interrupted (every PF to its state before that apply); release stale VF leases (their process is"
                    + " gone): each VF gets the settings of a free VF (MAC 00:00:00:00:00:00, no VLAN, no rate limit,"
                    + " spoof checking on, trust off) and its driver from before the lease back; delete the macvtaps of"
                    + " jvmm processes that are gone. Live applies, leases and macvtaps are not touched.")
    static final class Reconcile extends OnPools {
        @Option(names = "--state-dir", description = "where apply records live (default $JVMM_STATE_DIR/sriov or /var/lib/jvmm/sriov)")
        Path stateDir;

        @Override
        public Integer call() {
            List<SriovApply.Recovered> applies = with(m -> applier(m, stateDir, Duration.ofSeconds(60)).recover());
            List<VfPool.Released> rs = with(m -> pf == null ? pools.apply(m).reclaimStale() : pools.apply(m).reclaimStale(pf));
            List<String> gone = staleMacvtaps.get();
            long leasesFailed = rs.stream().filter(r -> !r.ok()).count();
            long appliesFailed = applies.stream().filter(r -> !r.ok()).count();
            if (json) {
                java.util.Map<String, Object> top = new java.util.LinkedHashMap<>();
                top.put("applies", applies.stream().map(r -> {
                    java.util.Map<String, Object> a = new java.util.LinkedHashMap<>();
                    a.put("pid", r.pid());
                    a.put("startedAt", r.startedAt());
                    a.put("stale", r.stale());
                    a.put("pfs", r.pfs().stream().map(PciAddress::toString).toList());
                    a.put("rolledBack", r.ok());
                    a.put("error", r.ok() ? null : r.failure().getMessage());
                    return a;
                }).toList());
                top.put("reclaimed", PoolReport.reclaimedValue(rs));
                top.put("macvtapsDeleted", gone);
                print(spec, dev.jvmm.sys.json.Json.write(top));
            } else {
                StringBuilder b = new StringBuilder();
                applies.forEach(r -> b.append(r).append('\n'));
                b.append(PoolReport.reclaimedText(rs));
                gone.forEach(g -> b.append("deleted macvtap ").append(g).append(": the jvmm that made it is gone\n"));
                print(spec, b.toString());
            }
            List<String> failures = new java.util.ArrayList<>();
            if (appliesFailed > 0) {
                failures.add("an interrupted apply could not be rolled back (see above); its PFs need attention");
            }
            if (leasesFailed > 0) {
                failures.add(leasesFailed + " of " + rs.size() + " stale leases could not be released (see above);"
                        + " their VFs stay out of the pool");
            }
            if (!failures.isEmpty()) {
                throw new ExitCodeException(ErrorHandler.EXIT_FAILURE, String.join("; and ", failures), null);
            }
            return 0;
        }
    }
}

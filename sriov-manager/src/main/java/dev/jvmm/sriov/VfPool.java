package dev.jvmm.sriov;

import static dev.jvmm.sriov.SriovException.Reason.IN_USE;
import static dev.jvmm.sriov.SriovException.Reason.INVALID_ARGUMENT;
import static dev.jvmm.sriov.SriovException.Reason.LEASE;
import static dev.jvmm.sriov.SriovException.Reason.NOT_A_NIC;
import static dev.jvmm.sriov.SriovException.Reason.NOT_FOUND;
import static dev.jvmm.sriov.SriovException.Reason.NOT_SRIOV;
import static dev.jvmm.sriov.SriovException.Reason.NO_FREE_VF;
import static dev.jvmm.sriov.SriovException.Reason.NO_VFS;
import static dev.jvmm.sriov.SriovException.Reason.ROLLBACK_FAILED;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.FileErrors;
import dev.jvmm.sys.netlink.VfAttribute;
import dev.jvmm.sys.netlink.VfInfo;
import dev.jvmm.sys.pci.DriverBinder;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciException;
import dev.jvmm.sys.pci.VfioUsers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VF pools: the VFs of a PF, handed out one at a time (to {@code jvmm launch --nic pf=...}) under a lease that other
 * jvmm processes see, and that is found and given back after its holder was killed.
 *
 * <p>Files, one directory per PF under the lease directory ({@link #DEFAULT_LEASE_DIR}, {@code /run/jvmm/leases}):
 * <pre>
 * /run/jvmm/leases/0000:01:00.0/.lock               the pool's lock ({@link java.nio.channels.FileLock})
 * /run/jvmm/leases/0000:01:00.0/0000:01:10.0.json   one lease ({@link LeaseRecord}): holder pid, start time and
 *                                                   label, the VF's binding and settings before the lease
 * </pre>
 * {@code /run} is a tmpfs, so a reboot forgets the leases together with the VFs they describe.
 *
 * <p>A VF is free when no live lease holds it and no process holds it open through VFIO ({@link VfioUsers}). A lease
 * is stale when its process is gone, is a zombie, or its pid now belongs to another process (another start time in
 * {@code /proc/PID/stat}). Every change to a pool happens under its lock, so two processes (or threads) never take
 * the same VF, and stale leases are released (the VF reset and given back) under that lock before a VF is chosen.
 *
 * <p>Close order: a VM closes its VFIO device and group before its lease. A lease whose VF is still held open through
 * VFIO is not released ({@link SriovException.Reason#IN_USE}): unbinding vfio-pci would wait in the kernel until the
 * device is closed.
 *
 * <p>Thread-safe: calls into the {@link SriovManager} (whose netlink socket is not) are made holding its monitor.
 */
public final class VfPool implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VfPool.class);
    /** Where leases live on the running host. */
    public static final Path DEFAULT_LEASE_DIR = Path.of("/run/jvmm/leases");
    /** How long to wait for a pool's lock: longer than one sysfs write may take (2 min). */
    public static final Duration DEFAULT_LOCK_TIMEOUT = Duration.ofMinutes(3);
    private final SriovManager m;
    private final Path leaseDir;
    private final Path proc;
    private final Duration lockTimeout;
    private final boolean ownsManager;

    /** A pool over {@code m} with leases in {@code leaseDir}, on the running host's {@code /proc}. */
    public VfPool(SriovManager m, Path leaseDir) {
        this(m, leaseDir, Path.of("/proc"), DEFAULT_LOCK_TIMEOUT);
    }

    /**
     * @param proc        the procfs mount: who holds a lease (pid and start time) and who holds VFs through VFIO
     * @param lockTimeout how long to wait for a pool's lock held by another process or thread
     */
    public VfPool(SriovManager m, Path leaseDir, Path proc, Duration lockTimeout) {
        this(m, leaseDir, proc, lockTimeout, false);
    }

    private VfPool(SriovManager m, Path leaseDir, Path proc, Duration lockTimeout, boolean ownsManager) {
        this.m = m;
        this.leaseDir = leaseDir;
        this.proc = proc;
        this.lockTimeout = lockTimeout;
        this.ownsManager = ownsManager;
    }

    /** The running host: {@link SriovManager#system()} (closed with this pool), leases in {@link #DEFAULT_LEASE_DIR}. */
    public static VfPool system() {
        return new VfPool(SriovManager.system(), DEFAULT_LEASE_DIR, Path.of("/proc"), DEFAULT_LOCK_TIMEOUT, true);
    }

    public Path leaseDir() {
        return leaseDir;
    }

    /** The directory of {@code pf}'s pool: its lock and its lease files. */
    public Path poolDir(PciAddress pf) {
        return leaseDir.resolve(pf.toString());
    }

    /** The lease file of VF {@code vf} of {@code pf} (whether or not it exists). */
    public Path leaseFile(PciAddress pf, PciAddress vf) {
        return poolDir(pf).resolve(vf + ".json");
    }

    /**
     * A lease that was ended, by {@link Lease#close} or, for a stale one, by {@link #reclaimStale}.
     *
     * @param stale   why the lease was stale; null for a lease that its holder closed
     * @param actions what was done to the VF, in order ({@code IFLA_VF_MAC mac=00:00:00:00:00:00},
     *                {@code driver vfio-pci -> igbvf})
     * @param failure why the lease could not be ended (its file then stays, so the VF is not handed out in an unknown
     *                state); null when it was
     */
    public record Released(LeaseRecord lease, String stale, List<String> actions, SriovException failure) {
        public Released {
            actions = List.copyOf(actions);
        }

        public boolean ok() {
            return failure == null;
        }
    }

    /**
     * The pool of {@code pf}, a PF's netdev ({@code enp1s0}) or PCI address: its VFs with their drivers, and for each
     * whether it is free, leased (holder, pid, since when), stale or held through VFIO without a lease.
     * NOT_FOUND for a PF that does not exist, NOT_SRIOV for a device without SR-IOV or with {@code sriov_totalvfs}
     * 0, NO_VFS for a PF without VFs; each message names the PF and what to do.
     */
    public PoolState state(String pf) {
        PciAddress a = pool(pf);
        return read(a, scan());
    }

    /** Every pool: each SR-IOV PF that has VFs, and each PF that has lease files. */
    public List<PoolState> states() {
        TreeSet<PciAddress> pfs = new TreeSet<>(leasedPfs());
        for (PfInfo p : m.discovery().pfs()) {
            if (p.numVfs() > 0) {
                pfs.add(p.bdf());
            }
        }
        VfioUsers users = scan();
        List<PoolState> out = new ArrayList<>();
        for (PciAddress a : pfs) {
            out.add(read(a, users));
        }
        return out;
    }

    /**
     * Takes a VF of {@code pf}'s pool for {@code holder} (a label such as the VM's name) and this process. All under
     * the pool's lock: releases the pool's stale leases ({@link Lease#reclaimed} reports them), chooses
     * {@code wantedVf} or else the free VF with the lowest index, writes its lease file (with the VF's binding and
     * settings before), applies {@code cfg} over rtnetlink (as {@code jvmm sriov set} does; read back and checked)
     * and binds the VF to vfio-pci. The settings come before the binding so that the VF has its admin MAC when the
     * guest's driver first sees it. If a step fails, what was done is
     * undone (binding, settings, lease file) and the failure thrown; if undoing fails too, ROLLBACK_FAILED, and the
     * lease file stays for {@code jvmm sriov reconcile} to finish once this process has exited.
     *
     * @param wantedVf a VF of {@code pf}, or null for any free one
     * @param cfg      the VF's network settings; null or {@link VfNetConfig#NONE} for none
     * @throws SriovException NO_FREE_VF when every VF is taken; IN_USE when {@code wantedVf} is leased by a live
     *                        process or held through VFIO; INVALID_ARGUMENT when it is not a VF of {@code pf};
     *                        and {@link #state}'s errors for the PF
     */
    public Lease acquire(String pf, PciAddress wantedVf, VfNetConfig cfg, String holder) {
        VfNetConfig want = cfg == null ? VfNetConfig.NONE : cfg;
        if (holder == null || holder.isBlank()) {
            throw new SriovException(INVALID_ARGUMENT, "a VF lease needs a holder label (the VM's name)");
        }
        PciAddress a = pool(pf);
        String name = named(pf, a);
        PfInfo p = m.discovery().pf(a);
        if (!want.isEmpty() && !p.isNic()) {
            throw new SriovException(NOT_A_NIC, name + " (" + p.vendorDevice() + ", driver " + p.driver()
                    + ") is not a network device, so VF network settings (MAC, VLAN...) do not apply");
        }
        if (wantedVf != null && p.vfs().stream().noneMatch(v -> v.bdf().equals(wantedVf))) {
            throw new SriovException(INVALID_ARGUMENT, wantedVf + " is not a VF of " + name + ", whose VFs are "
                    + String.join(", ", p.vfs().stream().map(v -> v.bdf().toString()).toList())
                    + " ('jvmm sriov leases " + pf + "' shows which are free)");
        }
        ProcessIdentity me = ProcessIdentity.current(proc);
        try (PoolLock lock = PoolLock.take(poolDir(a), lockTimeout)) {
            synchronized (m) {
                VfioUsers users = scan();
                List<Released> reclaimed = reclaimLocked(a, users);
                PoolState st = read(a, users);
                PoolState.Slot s = choose(pf, name, st, wantedVf);
                return take(p, s, want, holder, me, reclaimed);
            }
        }
    }

    /**
     * Releases the stale leases of {@code pf}'s pool: each VF gets the settings of a free VF and its previous binding
     * back, and its lease file is deleted. A lease that cannot be released (its VF still held through VFIO, a
     * setting refused) is reported with its failure and stays. Empty when the PF has no leases.
     */
    public List<Released> reclaimStale(String pf) {
        return reclaim(resolve(pf));
    }

    /** {@link #reclaimStale(String)} for every PF that has a pool directory. */
    public List<Released> reclaimStale() {
        List<Released> out = new ArrayList<>();
        for (PciAddress a : leasedPfs()) {
            out.addAll(reclaim(a));
        }
        return out;
    }

    private List<Released> reclaim(PciAddress a) {
        if (!Files.isDirectory(poolDir(a))) {
            return List.of();
        }
        try (PoolLock lock = PoolLock.take(poolDir(a), lockTimeout)) {
            synchronized (m) {
                return reclaimLocked(a, scan());
            }
        }
    }

    private List<Released> reclaimLocked(PciAddress a, VfioUsers users) {
        // a lease file is written under this lock as a temporary file, then renamed: one left was its writer's death
        for (Path f : list(poolDir(a))) {
            if (f.getFileName().toString().endsWith(".tmp")) {
                try {
                    Files.deleteIfExists(f);
                    LOG.info("{}: deleted {}, a lease file its writer did not finish", a, f);
                } catch (IOException e) {
                    LOG.warn("{}: cannot delete the unfinished lease file {}: {}", a, f, FileErrors.describe(e));
                }
            }
        }
        List<Released> out = new ArrayList<>();
        for (PoolState.Slot s : read(a, users).with(PoolState.Status.STALE)) {
            out.add(releaseLocked(s.lease(), leaseFile(a, s.bdf()), s.stale(), users));
        }
        return out;
    }

    // ---- reading a pool

    /** {@code pf} resolved and checked to be a PF with VFs; errors that name it and say what to do. */
    private PciAddress pool(String pf) {
        PciAddress a = resolve(pf);
        String name = named(pf, a);
        PfInfo p;
        try {
            p = m.discovery().pf(a);
        } catch (SriovException e) {
            if (e.reason() == NOT_SRIOV) {
                throw new SriovException(NOT_SRIOV, "no VF pool on " + name + ": " + e.getMessage()
                        + "; 'jvmm sriov list' shows the PFs with SR-IOV", e);
            }
            throw e;
        }
        if (p.totalVfs() == 0) {
            throw new SriovException(NOT_SRIOV, "no VF pool on " + name + ": it reports sriov_totalvfs 0, so its"
                    + " firmware or driver offers no VFs (enable SR-IOV in the firmware setup or the driver's parameters)");
        }
        if (p.numVfs() == 0) {
            throw new SriovException(NO_VFS, "the VF pool of " + name + " is empty: it has no VFs yet (sriov_numvfs is 0,"
                    + " at most " + p.totalVfs() + "); create them with 'jvmm sriov create " + pf + " N --autoprobe off'");
        }
        return a;
    }

    private PciAddress resolve(String pf) {
        try {
            return m.resolve(pf);
        } catch (SriovException e) {
            if (e.reason() == NOT_FOUND) {
                throw new SriovException(NOT_FOUND, e.getMessage() + "; 'jvmm sriov list' shows the PFs with SR-IOV", e);
            }
            throw e;
        }
    }

    private static String named(String given, PciAddress a) {
        return given.equals(a.toString()) ? a.toString() : given + " (" + a + ")";
    }

    /** The PF at {@code a} with its VFs, or null when it no longer exists or has no SR-IOV. */
    private PfInfo existingPf(PciAddress a) {
        if (!m.discovery().pci().exists(a)) {
            return null;
        }
        try {
            return m.discovery().pf(a);
        } catch (SriovException e) {
            if (e.reason() == NOT_SRIOV || e.reason() == NOT_FOUND) {
                return null;
            }
            throw e;
        }
    }

    private PoolState read(PciAddress a, VfioUsers users) {
        PfInfo p = existingPf(a);
        Map<PciAddress, LeaseRecord> leases = leases(a);
        List<PoolState.Slot> slots = new ArrayList<>();
        if (p != null) {
            for (VfDevice v : p.vfs()) {
                slots.add(slot(v.index(), v.bdf(), v.driver(), true, leases.remove(v.bdf()),
                        SriovException.mapping(() -> users.of(m.discovery().pci(), v.bdf()))));
            }
        }
        for (LeaseRecord l : leases.values()) {
            slots.add(slot(l.index(), l.vf(), null, false, l, List.of()));
        }
        return new PoolState(a, p == null ? null : p.netdev(), p == null ? null : p.driver(),
                p == null ? 0 : p.totalVfs(), p == null ? 0 : p.numVfs(), slots);
    }

    private PoolState.Slot slot(int index, PciAddress bdf, String driver, boolean exists, LeaseRecord l,
            List<VfioUsers.User> users) {
        String stale = l == null ? null : ProcessIdentity.stale(proc, l.pid(), l.starttime());
        PoolState.Status st = l != null ? (stale == null ? PoolState.Status.LEASED : PoolState.Status.STALE)
                : users.isEmpty() ? PoolState.Status.FREE : PoolState.Status.IN_USE;
        return new PoolState.Slot(index, bdf, driver, exists, st, l, stale, users);
    }

    /** The lease files of {@code pf}'s pool, by VF. */
    private Map<PciAddress, LeaseRecord> leases(PciAddress pf) {
        Map<PciAddress, LeaseRecord> out = new TreeMap<>();
        for (Path f : list(poolDir(pf))) {
            if (f.getFileName().toString().endsWith(".json")) {
                LeaseRecord r = LeaseRecord.read(f);
                if (r != null) { // null: released meanwhile
                    out.put(r.vf(), r);
                }
            }
        }
        return out;
    }

    /** The PFs that have a pool directory. */
    private List<PciAddress> leasedPfs() {
        List<PciAddress> out = new ArrayList<>();
        for (Path d : list(leaseDir)) {
            String n = d.getFileName().toString();
            if (Files.isDirectory(d) && PciAddress.looksLike(n)) {
                out.add(PciAddress.parse(n));
            }
        }
        out.sort(null);
        return out;
    }

    private static List<Path> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        } catch (IOException e) {
            throw new SriovException(LEASE, "cannot list the lease directory " + dir + ": " + FileErrors.describe(e), e);
        }
    }

    private VfioUsers scan() {
        return SriovException.mapping(() -> VfioUsers.scan(proc));
    }

    // ---- taking and giving back

    private PoolState.Slot choose(String pf, String name, PoolState st, PciAddress wanted) {
        if (wanted != null) {
            PoolState.Slot s = st.slot(wanted);
            String vf = "VF " + s.bdf() + " (VF " + s.index() + " of " + name + ")";
            switch (s.status()) {
                case FREE -> {
                    return s;
                }
                case LEASED -> throw new SriovException(IN_USE, vf + " is leased by " + who(s.lease())
                        + "; leave vf= out to take any free VF of the pool, or stop that VM first");
                case IN_USE -> throw new SriovException(IN_USE, vf + " is held open through VFIO by " + users(s)
                        + " without a lease (a VM given the VF by address?); choose another VF");
                default -> throw new SriovException(IN_USE, vf + " has a stale lease of " + who(s.lease()) + " ("
                        + s.stale() + ") that could not be released; 'jvmm sriov reconcile " + pf + "' says why");
            }
        }
        for (PoolState.Slot s : st.vfs()) {
            if (s.exists() && s.status() == PoolState.Status.FREE) {
                return s;
            }
        }
        List<String> taken = new ArrayList<>();
        for (PoolState.Slot s : st.vfs()) {
            if (s.exists()) {
                taken.add("VF " + s.index() + (s.status() == PoolState.Status.IN_USE ? " held through VFIO by " + users(s)
                        : (s.status() == PoolState.Status.STALE ? " has a stale lease of " : " leased by ") + who(s.lease())));
            }
        }
        throw new SriovException(NO_FREE_VF, "no free VF in the pool of " + name + ": " + String.join("; ", taken)
                + ". Stop a VM that holds one, or, while none is in use, give the PF more VFs ('jvmm sriov create "
                + pf + " N', at most " + st.totalVfs() + ")");
    }

    private static String who(LeaseRecord l) {
        return "'" + l.holder() + "' (pid " + l.pid() + ", since " + l.acquiredAt() + ")";
    }

    private static String users(PoolState.Slot s) {
        return String.join(", ", s.users().stream().map(VfioUsers.User::toString).toList());
    }

    private static String driverName(String d) {
        return d == null ? "none" : d;
    }

    private Lease take(PfInfo p, PoolState.Slot s, VfNetConfig cfg, String holder, ProcessIdentity me,
            List<Released> reclaimed) {
        PciAddress a = p.bdf();
        DriverBinder.Binding before = m.binding(s.bdf());
        VfInfo now = p.isNic() ? m.readVf(a, s.index()) : null;
        LeaseRecord r = new LeaseRecord(a, p.netdev(), s.bdf(), s.index(), me.pid(), me.starttime(), holder,
                Instant.now(), before, now == null ? null : VfNetConfig.of(now), cfg);
        Path f = leaseFile(a, s.bdf());
        // the lease file first: if this process dies from here on, the lease is stale and reconcile undoes the rest
        try {
            JsonFiles.write(f, r.toJson());
        } catch (IOException e) {
            throw new SriovException(LEASE, "cannot write the lease file " + f + " (nothing was changed): "
                    + FileErrors.describe(e), e);
        }
        List<String> did = new ArrayList<>();
        try {
            if (!cfg.isEmpty()) {
                for (VfAttribute x : m.configureVf(a, s.index(), cfg)) {
                    did.add(x.kernelName() + " " + x.describe());
                }
                m.verifyVf(a, s.index(), cfg);
            }
            m.bind(s.bdf(), DriverBinder.VFIO_PCI);
            if (!DriverBinder.VFIO_PCI.equals(before.driver())) {
                did.add("driver " + driverName(before.driver()) + " -> " + DriverBinder.VFIO_PCI);
            }
        } catch (RuntimeException e) {
            throw undo(r, f, e);
        }
        LOG.info("{}: VF {} {} leased to '{}' (pid {}){}", a, s.index(), s.bdf(), holder, me.pid(),
                did.isEmpty() ? "" : ": " + String.join(", ", did));
        return new Lease(this, r, f, reclaimed);
    }

    /** Undoes a failed {@link #take}: binding, settings, lease file (reverse order); returns what to throw. */
    private RuntimeException undo(LeaseRecord r, Path f, RuntimeException e) {
        LOG.warn("{}: taking VF {} for '{}' failed, undoing: {}", r.pf(), r.vf(), r.holder(), e.getMessage());
        List<RuntimeException> errs = new ArrayList<>();
        try {
            m.restore(r.vf(), r.before());
        } catch (RuntimeException x) {
            errs.add(x);
        }
        if (r.beforeNet() != null) {
            try {
                m.configureVf(r.pf(), r.index(), r.beforeNet());
            } catch (RuntimeException x) {
                errs.add(x);
            }
        }
        if (errs.isEmpty()) {
            try {
                Files.deleteIfExists(f);
                return e;
            } catch (IOException x) {
                errs.add(new SriovException(LEASE, "cannot delete the lease file " + f + ": " + FileErrors.describe(x), x));
            }
        }
        SriovException rb = new SriovException(ROLLBACK_FAILED, "taking VF " + r.vf() + " of " + r.pf() + " failed and"
                + " undoing it failed too; its lease file " + f + " stays, so that 'jvmm sriov reconcile' gives the VF"
                + " back once this process has exited: " + e.getMessage(), e);
        errs.forEach(rb::addSuppressed);
        return rb;
    }

    /** Ends a lease this process holds (see {@link Lease#close}). */
    private Released release(LeaseRecord r, Path f) {
        try (PoolLock lock = PoolLock.take(poolDir(r.pf()), lockTimeout)) {
            synchronized (m) {
                return releaseLocked(r, f, null, scan());
            }
        }
    }

    /**
     * Ends a lease, holding the pool's lock: the VF gets the settings of a free VF (only what its driver supports)
     * and its previous binding back, then the lease file goes. Fails (IN_USE) without touching the VF while a
     * process holds it through VFIO. On failure the lease file stays and the failure is returned, not thrown, so that
     * a reclaim goes on with the next lease.
     */
    private Released releaseLocked(LeaseRecord r, Path f, String stale, VfioUsers users) {
        List<String> actions = new ArrayList<>();
        String what = r.pf() + ": VF " + r.index() + " " + r.vf() + ": lease of '" + r.holder() + "' (pid " + r.pid() + ")";
        try {
            LeaseRecord cur = LeaseRecord.read(f);
            if (cur == null || cur.pid() != r.pid() || cur.starttime() != r.starttime()
                    || !cur.acquiredAt().equals(r.acquiredAt())) {
                LOG.warn("{}: its lease file {} is gone or belongs to another lease now; VF not touched", what, f);
                return new Released(r, stale, List.of("lease file already gone, VF not touched"), null);
            }
            PfInfo p = existingPf(r.pf());
            VfDevice v = p == null ? null : p.vfs().stream().filter(x -> x.bdf().equals(r.vf())).findFirst().orElse(null);
            if (v == null) {
                actions.add("VF no longer exists");
            } else {
                List<VfioUsers.User> us = users.of(m.discovery().pci(), r.vf());
                if (!us.isEmpty()) {
                    throw new SriovException(IN_USE, "VF " + r.vf() + " is still held open through VFIO by "
                            + String.join(", ", us.stream().map(VfioUsers.User::toString).toList())
                            + (stale == null ? ": close the VM's VFIO device before its lease" : ": stop that process first"));
                }
                if (p.isNic()) {
                    SriovManager.VfReset rs = m.resetVf(r.pf(), v.index());
                    rs.sent().forEach(x -> actions.add(x.kernelName() + " " + x.describe()));
                    rs.skipped().forEach(x -> actions.add("skipped " + x));
                }
                String d = m.restore(r.vf(), r.before());
                if (!Objects.equals(v.driver(), d)) {
                    actions.add("driver " + driverName(v.driver()) + " -> " + driverName(d));
                }
            }
            Files.deleteIfExists(f);
        } catch (SriovException | PciException | ErrnoException | IOException e) {
            SriovException s = e instanceof SriovException x ? x : e instanceof PciException x ? SriovException.of(x)
                    : e instanceof ErrnoException x ? new SriovException(SriovException.Reason.NETLINK, x.getMessage(), x)
                    : new SriovException(LEASE, "cannot delete the lease file " + f + ": " + FileErrors.describe(e), e);
            SriovException fail = new SriovException(s.reason(), "releasing VF " + r.vf() + " (lease of '" + r.holder()
                    + "') failed: " + s.getMessage() + "; its lease file " + f + " stays, so the VF is not handed out"
                    + " in an unknown state", s);
            LOG.warn("{}: not released{}: {}", what, stale == null ? "" : " (stale: " + stale + ")", fail.getMessage());
            return new Released(r, stale, actions, fail);
        }
        LOG.info("{} released{}: {}", what, stale == null ? "" : " (stale: " + stale + ")",
                actions.isEmpty() ? "VF already as a free VF" : String.join(", ", actions));
        return new Released(r, stale, actions, null);
    }

    /** Closes the {@link SriovManager} when {@link #system()} made it; leases are closed before their pool. */
    @Override
    public void close() {
        if (ownsManager) {
            m.close();
        }
    }

    /**
     * One VF taken from a pool by this process, until {@link #close}. The VF is bound to vfio-pci with the lease's
     * network settings; give it to the VM by {@link #vf()}.
     */
    public static final class Lease implements AutoCloseable {
        private final VfPool pool;
        private final LeaseRecord record;
        private final Path file;
        private final List<Released> reclaimed;
        private boolean released;

        private Lease(VfPool pool, LeaseRecord record, Path file, List<Released> reclaimed) {
            this.pool = pool;
            this.record = record;
            this.file = file;
            this.reclaimed = List.copyOf(reclaimed);
        }

        /** The VF's PCI address (for VFIO). */
        public PciAddress vf() {
            return record.vf();
        }

        /** The VF's index on its PF ({@code virtfnN}). */
        public int index() {
            return record.index();
        }

        public PciAddress pf() {
            return record.pf();
        }

        /** The PF's network interface; null for a PF that is not a NIC. */
        public String pfNetdev() {
            return record.pfNetdev();
        }

        public String holder() {
            return record.holder();
        }

        /** The lease file. */
        public Path file() {
            return file;
        }

        /** What the lease file says. */
        public LeaseRecord record() {
            return record;
        }

        /** The stale leases of the pool that {@link VfPool#acquire} released before choosing this VF. */
        public List<Released> reclaimed() {
            return reclaimed;
        }

        /**
         * Ends the lease: the VF gets the settings of a free VF ({@link VfNetConfig#cleared}: MAC 00:00:00:00:00:00,
         * VLAN 0, no rate limit, spoof checking on, trust off; only what the driver supports), its driver binding from
         * before the lease back, and the lease file is deleted; logged. Idempotent. When it fails (the VM's VFIO
         * device still open, a setting refused) it throws and the lease file stays, so the VF is not handed out in an
         * unknown state; a later {@code close()} tries again, and after this process has exited
         * {@code jvmm sriov reconcile} does.
         */
        @Override
        public synchronized void close() {
            if (released) {
                return;
            }
            Released r = pool.release(record, file);
            if (!r.ok()) {
                throw r.failure();
            }
            released = true;
        }

        @Override
        public String toString() {
            return "VF " + record.index() + " " + record.vf() + " of " + record.pf() + " leased to '" + record.holder() + "'";
        }
    }
}

package dev.jvmm.sriov;

import dev.jvmm.sys.json.Json;
import static dev.jvmm.sriov.SriovException.Reason.ROLLBACK_FAILED;
import static dev.jvmm.sriov.SriovException.Reason.STATE;

import dev.jvmm.sys.netlink.VfAttribute;
import dev.jvmm.sys.pci.DriverBinder;
import dev.jvmm.sys.pci.PciAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Declarative apply: brings each PF of a {@link SriovSpec} to the wanted VF count, VF network settings and VF
 * drivers, in the order that avoids the known traps (autoprobe before creating VFs, count through 0, admin MAC set
 * before a VF goes to vfio-pci). Idempotent: it diffs wanted against actual and writes nothing when they agree.
 * Transactional: it snapshots every PF first and, on any failure, restores all PFs it touched to that snapshot.
 * A state file per PF ({@code <stateDir>/<bdf>.json}) records the spec applied and the state before jvmm's first
 * apply, which {@link #reset} restores.
 *
 * <p><b>Crash safety.</b> Applies and resets are serialised by a lock ({@code <journalDir>/.lock}, a file lock the
 * kernel drops when its holder dies). Before its first change an apply writes a journal,
 * {@code <journalDir>/apply.json} ({@link #DEFAULT_JOURNAL_DIR}): its pid and start time, the spec, every PF's
 * snapshot and the state files as they were. It deletes the journal once it is done, or once it rolled back a
 * failure. An apply killed in between (SIGKILL, a crash, a power cut of the process) leaves the journal, and
 * {@link #recover} (run by {@code jvmm sriov reconcile}, and first thing by every apply and reset) rolls that apply
 * back as if it had failed: every PF goes back to its snapshot, the state files to what they were. {@code /run} is a
 * tmpfs, so a reboot forgets the journal together with the VFs it describes.
 */
public final class SriovApply {
    private static final Logger LOG = LoggerFactory.getLogger(SriovApply.class);
    /** Where the journal of an apply under way lives on the running host. */
    public static final Path DEFAULT_JOURNAL_DIR = Path.of("/run/jvmm/sriov-apply");
    static final String JOURNAL = "apply.json";
    private static final Duration LOCK_TIMEOUT = Duration.ofMinutes(5);
    private final SriovManager m;
    private final Path stateDir;
    private final Path journalDir;
    private final Path proc;
    private final Duration timeout;

    /** What apply did to one PF: the actions in order, and notes such as settings skipped on a non-NIC PF. */
    public record PfReport(PciAddress pf, List<String> actions, List<String> notes) {
        public boolean changed() {
            return !actions.isEmpty();
        }
    }

    /**
     * An apply that was interrupted (its process is gone) and was rolled back by {@link #recover}.
     *
     * @param pid       the process that ran it
     * @param startedAt when it began
     * @param stale     why its process counts as gone
     * @param pfs       the PFs it was applying, each rolled back to its snapshot
     * @param failure   why the rollback failed (the journal then stays, for the next try); null when it worked
     */
    public record Recovered(long pid, String startedAt, String stale, List<PciAddress> pfs, SriovException failure) {
        public Recovered {
            pfs = List.copyOf(pfs);
        }

        public boolean ok() {
            return failure == null;
        }

        @Override
        public String toString() {
            return (ok() ? "rolled back" : "could not roll back") + " the apply of pid " + pid + " begun " + startedAt
                    + " (" + stale + ")" + (pfs.isEmpty() ? "" : " on " + String.join(", ", pfs.stream()
                    .map(PciAddress::toString).toList())) + (ok() ? "" : ": " + failure.getMessage());
        }
    }

    /**
     * @param stateDir   where the apply records live ({@link #defaultStateDir})
     * @param journalDir where the lock and the journal of an apply under way live ({@link #DEFAULT_JOURNAL_DIR})
     * @param proc       the procfs mount, to tell whether a journal's process is gone
     * @param timeout    how long one VF count change may take
     */
    public SriovApply(SriovManager m, Path stateDir, Path journalDir, Path proc, Duration timeout) {
        this.m = m;
        this.stateDir = stateDir;
        this.journalDir = journalDir;
        this.proc = proc;
        this.timeout = timeout;
    }

    /** The running host: the journal in {@link #DEFAULT_JOURNAL_DIR}, {@code /proc}. */
    public static SriovApply system(SriovManager m, Path stateDir, Duration timeout) {
        return new SriovApply(m, stateDir, DEFAULT_JOURNAL_DIR, Path.of("/proc"), timeout);
    }

    /** The journal of an apply under way (or interrupted). */
    public Path journalFile() {
        return journalDir.resolve(JOURNAL);
    }

    /** Default state directory: {@code $JVMM_STATE_DIR/sriov}, else {@code /var/lib/jvmm/sriov}. */
    public static Path defaultStateDir() {
        String env = System.getenv("JVMM_STATE_DIR");
        return env != null && !env.isEmpty() ? Path.of(env, "sriov") : Path.of("/var/lib/jvmm/sriov");
    }

    public Path stateFile(PciAddress pf) {
        return stateDir.resolve(pf + ".json");
    }

    /** Reads the state the PF is in now, as far as apply could change it. */
    public PfSnapshot snapshot(PciAddress pf) {
        PfInfo p = m.pf(pf);
        List<PfSnapshot.VfState> vfs = new ArrayList<>();
        for (VfDevice v : p.vfs()) {
            vfs.add(new PfSnapshot.VfState(v.index(), v.bdf(), v.driver(), v.driverOverride(),
                    v.net() == null ? null : VfNetConfig.of(v.net())));
        }
        return new PfSnapshot(pf, p.numVfs(), p.autoprobe(), List.copyOf(vfs));
    }

    /**
     * Applies {@code spec}. On failure every PF touched so far is restored to its snapshot and the failure is
     * rethrown (ROLLBACK_FAILED if restoring failed too, with the rollback errors attached as suppressed).
     */
    public List<PfReport> apply(SriovSpec spec) {
        try (PoolLock lock = lock()) {
            requireRecovered(recoverLocked());
            return applyLocked(spec);
        }
    }

    private List<PfReport> applyLocked(SriovSpec spec) {
        List<PciAddress> pfs = new ArrayList<>();
        for (SriovSpec.PfSpec ps : spec.pfs()) {
            PciAddress a = m.resolve(ps.pf());
            if (pfs.contains(a)) {
                throw new SriovException(SriovException.Reason.INVALID_ARGUMENT, "spec names PF " + a + " twice (as " + ps.pf() + ")");
            }
            pfs.add(a);
            PfInfo p = m.discovery().pf(a); // fails early on a non-SR-IOV device
            if (ps.numVfs() > p.totalVfs()) {
                throw new SriovException(SriovException.Reason.INVALID_ARGUMENT, "spec wants " + ps.numVfs() + " VFs on "
                        + a + " but it supports " + p.totalVfs() + " (sriov_totalvfs)");
            }
        }
        List<PfSnapshot> before = new ArrayList<>();
        for (PciAddress a : pfs) {
            before.add(snapshot(a));
        }
        writeJournal(spec, before);
        List<PfReport> reports = new ArrayList<>();
        int i = 0;
        try {
            for (; i < pfs.size(); i++) {
                reports.add(applyPf(pfs.get(i), spec.pfs().get(i), before.get(i)));
            }
        } catch (RuntimeException e) {
            LOG.warn("apply failed, rolling back: {}", e.getMessage());
            List<Throwable> rb = new ArrayList<>();
            for (int k = Math.min(i, pfs.size() - 1); k >= 0; k--) {
                try {
                    restore(before.get(k));
                } catch (RuntimeException r) {
                    rb.add(r);
                }
            }
            if (!rb.isEmpty()) {
                SriovException f = new SriovException(ROLLBACK_FAILED, "apply failed and the rollback failed too; the PFs"
                        + " need attention (the state before this apply is in its journal " + journalFile() + ", which"
                        + " 'jvmm sriov reconcile' rolls back again once this process has exited): " + e.getMessage(), e);
                rb.forEach(f::addSuppressed);
                throw f;
            }
            deleteJournal(e);
            throw e;
        }
        for (int k = 0; k < pfs.size(); k++) {
            writeState(pfs.get(k), spec.pfs().get(k), before.get(k), reports.get(k).changed());
        }
        deleteJournal(null);
        return reports;
    }

    // ---- the journal of an apply under way

    private PoolLock lock() {
        return PoolLock.take(journalDir, LOCK_TIMEOUT, "SR-IOV apply lock", "an apply takes seconds, up to a minute per"
                + " VF count change");
    }

    /**
     * Rolls back an apply whose process was killed before it finished (its journal is left): every PF it was applying
     * goes back to the snapshot taken before it began, and the apply records to what they were. Empty when there is
     * none. A journal whose process still runs (an apply whose own rollback failed, not yet exited) is reported as a
     * failure and not touched. Takes the apply lock, so it waits for an apply under way.
     */
    public List<Recovered> recover() {
        try (PoolLock lock = lock()) {
            return recoverLocked();
        }
    }

    private static void requireRecovered(List<Recovered> rs) {
        for (Recovered r : rs) {
            if (!r.ok()) {
                throw new SriovException(r.failure().reason(), "an earlier apply was interrupted and " + r
                        + "; nothing was changed now", r.failure());
            }
        }
    }

    @SuppressWarnings("unchecked")
    private List<Recovered> recoverLocked() {
        deleteTemporaries();
        Path f = journalFile();
        Object o;
        try {
            o = JsonFiles.read(f);
        } catch (IOException | Json.ParseException e) {
            return List.of(new Recovered(-1, "?", "unreadable journal", List.of(), new SriovException(STATE,
                    "cannot read the apply journal " + f + ": " + e.getMessage() + "; put the PFs right by hand"
                            + " ('jvmm sriov list'), then delete it", e)));
        }
        if (o == null) {
            return List.of();
        }
        long pid;
        long start;
        String at;
        List<PfSnapshot> before = new ArrayList<>();
        Map<String, Object> files;
        Path dir;
        try {
            Map<String, Object> j = (Map<String, Object>) o;
            pid = ((Number) j.get("pid")).longValue();
            start = ((Number) j.get("starttime")).longValue();
            at = (String) Objects.requireNonNull(j.get("startedAt"));
            for (Object p : (List<Object>) j.get("before")) {
                before.add(PfSnapshot.fromJson(p));
            }
            files = (Map<String, Object>) Objects.requireNonNull(j.get("stateFiles"));
            dir = Path.of((String) Objects.requireNonNull(j.get("stateDir"))); // the apply's, maybe another --state-dir
        } catch (RuntimeException e) {
            return List.of(new Recovered(-1, "?", "unreadable journal", List.of(), new SriovException(STATE,
                    "the apply journal " + f + " is not one jvmm wrote (" + e + "); put the PFs right by hand"
                            + " ('jvmm sriov list'), then delete it", e)));
        }
        List<PciAddress> pfs = before.stream().map(PfSnapshot::pf).toList();
        String stale = ProcessIdentity.stale(proc, pid, start);
        if (stale == null) {
            return List.of(new Recovered(pid, at, "still running", pfs, new SriovException(ROLLBACK_FAILED,
                    "its process " + pid + " still runs (its own rollback failed?); the journal " + f + " stays until it"
                            + " has exited")));
        }
        LOG.warn("the apply of pid {} begun {} was interrupted ({}): rolling back {}", pid, at, stale, pfs);
        List<RuntimeException> errs = new ArrayList<>();
        for (int k = before.size() - 1; k >= 0; k--) {
            try {
                restore(before.get(k));
            } catch (RuntimeException e) {
                errs.add(e);
            }
        }
        if (errs.isEmpty()) {
            try {
                for (Map.Entry<String, Object> e : files.entrySet()) {
                    Path sf = dir.resolve(PciAddress.parse(e.getKey()) + ".json");
                    if (e.getValue() == null) {
                        Files.deleteIfExists(sf);
                    } else {
                        JsonFiles.write(sf, e.getValue());
                    }
                }
                Files.delete(f);
            } catch (IOException | RuntimeException e) {
                errs.add(new SriovException(STATE, "rolled the PFs back, but could not put the apply records back or"
                        + " delete the journal " + f + ": " + e.getMessage(), e));
            }
        }
        if (!errs.isEmpty()) {
            SriovException fail = new SriovException(ROLLBACK_FAILED, errs.get(0).getMessage() + "; the journal " + f
                    + " stays for the next 'jvmm sriov reconcile'", errs.get(0));
            errs.subList(1, errs.size()).forEach(fail::addSuppressed);
            LOG.warn("the apply of pid {}: rollback failed: {}", pid, fail.getMessage());
            return List.of(new Recovered(pid, at, stale, pfs, fail));
        }
        LOG.info("the apply of pid {} begun {} rolled back on {}", pid, at, pfs);
        return List.of(new Recovered(pid, at, stale, pfs, null));
    }

    /** Temporary files of {@link JsonFiles#write} whose writer died between writing and renaming (under the lock). */
    private void deleteTemporaries() {
        for (Path dir : List.of(journalDir, stateDir)) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (Stream<Path> s = Files.list(dir)) {
                for (Path t : s.filter(x -> x.getFileName().toString().endsWith(".tmp")).toList()) {
                    Files.deleteIfExists(t);
                }
            } catch (IOException e) {
                LOG.warn("cannot clear temporary files of {}: {}", dir, e.getMessage());
            }
        }
    }

    private void writeJournal(SriovSpec spec, List<PfSnapshot> before) {
        ProcessIdentity me = ProcessIdentity.current(proc);
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("pid", me.pid());
        j.put("starttime", me.starttime());
        j.put("startedAt", Instant.now().toString());
        j.put("stateDir", stateDir.toAbsolutePath().toString());
        j.put("spec", spec.pfs().stream().map(SriovSpec::toJson).toList());
        j.put("before", before.stream().map(PfSnapshot::toJson).toList());
        Map<String, Object> files = new LinkedHashMap<>();
        for (PfSnapshot b : before) {
            files.put(b.pf().toString(), readStateMap(b.pf()));
        }
        j.put("stateFiles", files);
        try {
            JsonFiles.write(journalFile(), j);
        } catch (IOException e) {
            throw new SriovException(STATE, "cannot write the apply journal " + journalFile() + " (nothing was"
                    + " changed): " + e.getMessage(), e);
        }
    }

    /** Deletes the journal after an apply that finished or was rolled back; a failure to do so is reported. */
    private void deleteJournal(RuntimeException pending) {
        try {
            Files.deleteIfExists(journalFile());
        } catch (IOException e) {
            SriovException x = new SriovException(STATE, "cannot delete the apply journal " + journalFile()
                    + "; delete it by hand, or the next apply rolls this one back: " + e.getMessage(), e);
            if (pending != null) {
                pending.addSuppressed(x);
                return;
            }
            throw x;
        }
    }

    private PfReport applyPf(PciAddress pf, SriovSpec.PfSpec ps, PfSnapshot before) {
        List<String> actions = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        if (ps.autoprobe() != null && ps.autoprobe() != before.autoprobe()) {
            m.setAutoprobe(pf, ps.autoprobe());
            actions.add("sriov_drivers_autoprobe " + (before.autoprobe() ? 1 : 0) + " -> " + (ps.autoprobe() ? 1 : 0));
        }
        if (m.setNumVfs(pf, ps.numVfs(), null, timeout)) {
            actions.add("sriov_numvfs " + before.numVfs() + (before.numVfs() != 0 && ps.numVfs() != 0 ? " -> 0" : "")
                    + " -> " + ps.numVfs());
        }
        PfInfo p = m.pf(pf);
        List<Integer> skipped = new ArrayList<>();
        for (SriovSpec.VfSpec vs : ps.vfs()) {
            if (vs.net().isEmpty()) {
                continue;
            }
            if (!p.isNic()) {
                skipped.add(vs.index());
                continue;
            }
            // network settings first: the admin MAC must be in place before the VF goes to vfio-pci
            for (VfAttribute a : m.configureVf(pf, vs.index(), vs.net())) {
                actions.add("VF " + vs.index() + ": " + a.kernelName() + " " + a.describe());
            }
        }
        if (!skipped.isEmpty()) {
            notes.add(pf + " (" + p.vendorDevice() + ", driver " + p.driver() + ") is not a network device: network"
                    + " settings of VF " + skipped + " skipped");
        }
        if (p.isNic()) {
            verifyNet(pf, ps);
        }
        for (SriovSpec.VfSpec vs : ps.vfs()) {
            if (vs.driver() == null) {
                continue;
            }
            VfDevice v = p.vf(vs.index());
            DriverBinder.Binding now = m.binding(v.bdf());
            if (vs.driver().equals("host")) {
                if (now.override() != null || now.driver() == null) {
                    String d = m.unbind(v.bdf());
                    if (!Objects.equals(d, now.driver())) {
                        actions.add("VF " + vs.index() + " " + v.bdf() + ": " + (now.driver() == null ? "unbound" : now.driver())
                                + " -> host driver " + (d == null ? "(none matched)" : d));
                    }
                }
            } else if (!vs.driver().equals(now.driver()) || !vs.driver().equals(now.override())) {
                m.bind(v.bdf(), vs.driver());
                actions.add("VF " + vs.index() + " " + v.bdf() + ": " + (now.driver() == null ? "unbound" : now.driver())
                        + " -> " + vs.driver());
            }
        }
        for (String a : actions) {
            LOG.info("{}: {}", pf, a);
        }
        return new PfReport(pf, List.copyOf(actions), List.copyOf(notes));
    }

    /** Reads the VF table back and fails when the driver reports something else than was asked. */
    private void verifyNet(PciAddress pf, SriovSpec.PfSpec ps) {
        for (SriovSpec.VfSpec vs : ps.vfs()) {
            if (!vs.net().isEmpty()) {
                m.verifyVf(pf, vs.index(), vs.net());
            }
        }
    }

    /**
     * Puts a PF back into a snapshot's state: autoprobe, VF count (through 0 when it differs, which also brings
     * back fresh VFs), each VF's network settings and driver binding. Best effort per step; the first error is
     * thrown after all steps were tried, the others attached as suppressed.
     */
    public void restore(PfSnapshot s) {
        List<RuntimeException> errs = new ArrayList<>();
        PciAddress pf = s.pf();
        PfInfo now = m.discovery().pf(pf);
        try {
            if (now.numVfs() != s.numVfs()) {
                // autoprobe as it was before the VFs come back, so they get the same default binding
                m.setAutoprobe(pf, s.autoprobe());
                m.setNumVfs(pf, s.numVfs(), null, timeout);
            }
            m.setAutoprobe(pf, s.autoprobe());
        } catch (RuntimeException e) {
            errs.add(e);
        }
        PfInfo p = m.discovery().pf(pf);
        for (PfSnapshot.VfState v : s.vfs()) {
            VfDevice cur = p.vf(v.index());
            if (cur == null) {
                errs.add(new SriovException(SriovException.Reason.SYSFS, pf + ": VF " + v.index() + " missing after restore"));
                continue;
            }
            if (v.net() != null && p.isNic()) {
                try {
                    m.configureVf(pf, v.index(), v.net());
                } catch (RuntimeException e) {
                    errs.add(e);
                }
            }
            try {
                m.restore(cur.bdf(), new DriverBinder.Binding(v.driver(), v.driverOverride()));
            } catch (RuntimeException e) {
                errs.add(e);
            }
        }
        if (!errs.isEmpty()) {
            RuntimeException first = errs.get(0);
            errs.subList(1, errs.size()).forEach(first::addSuppressed);
            throw first;
        }
        LOG.info("{}: restored to {} VFs, autoprobe {}", pf, s.numVfs(), s.autoprobe() ? 1 : 0);
    }

    private void writeState(PciAddress pf, SriovSpec.PfSpec ps, PfSnapshot before, boolean changed) {
        Path f = stateFile(pf);
        PfSnapshot original = before;
        Map<String, Object> old = readStateMap(pf);
        if (old != null) {
            original = PfSnapshot.fromJson(old.get("before")); // keep the state before jvmm's first apply
            if (!changed && Objects.equals(old.get("spec"), roundTrip(SriovSpec.toJson(ps)))) {
                return; // nothing changed, record already says so: no write
            }
        }
        Map<String, Object> st = new LinkedHashMap<>();
        st.put("pf", pf.toString());
        st.put("appliedAt", Instant.now().toString());
        st.put("spec", SriovSpec.toJson(ps));
        st.put("before", original.toJson());
        try {
            JsonFiles.write(f, st);
        } catch (IOException e) {
            throw new SriovException(STATE, "applied, but could not write the state file " + f + ": " + e.getMessage()
                    + " (use --state-dir or JVMM_STATE_DIR for a writable directory)", e);
        }
    }

    private static Object roundTrip(Object o) {
        try {
            return Json.parse(Json.write(o));
        } catch (Json.ParseException e) {
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> readStateMap(PciAddress pf) {
        Path f = stateFile(pf);
        try {
            Object o = JsonFiles.read(f);
            if (o == null) {
                return null;
            }
            if (!(o instanceof Map) || !pf.toString().equals(((Map<String, Object>) o).get("pf"))) {
                throw new SriovException(STATE, "state file " + f + " does not describe PF " + pf);
            }
            return (Map<String, Object>) o;
        } catch (IOException | Json.ParseException e) {
            throw new SriovException(STATE, "cannot read the state file " + f + ": " + e.getMessage(), e);
        }
    }

    /**
     * Undoes what apply did to {@code pf}: restores the state recorded before jvmm's first apply and deletes the
     * record. Refuses a PF jvmm has no record for: it never resets a PF it did not configure.
     */
    public PfSnapshot reset(PciAddress pf) {
        try (PoolLock lock = lock()) {
            requireRecovered(recoverLocked());
            return resetLocked(pf);
        }
    }

    private PfSnapshot resetLocked(PciAddress pf) {
        Map<String, Object> st = readStateMap(pf);
        if (st == null) {
            throw new SriovException(STATE, "jvmm has no apply record for " + pf + " (" + stateFile(pf)
                    + " does not exist), so there is nothing to reset; use 'jvmm sriov destroy' to remove VFs");
        }
        PfSnapshot before = PfSnapshot.fromJson(st.get("before"));
        restore(before);
        try {
            Files.deleteIfExists(stateFile(pf));
        } catch (IOException e) {
            throw new SriovException(STATE, "restored " + pf + " but could not delete " + stateFile(pf), e);
        }
        return before;
    }
}

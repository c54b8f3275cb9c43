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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Declarative apply: brings each PF of a {@link SriovSpec} to the wanted VF count, VF network settings and VF
 * drivers, in the order that avoids the known traps (autoprobe before creating VFs, count through 0, admin MAC set
 * before a VF goes to vfio-pci). Idempotent: it diffs wanted against actual and writes nothing when they agree.
 * Transactional: it snapshots every PF first and, on any failure, restores all PFs it touched to that snapshot.
 * A state file per PF ({@code <stateDir>/<bdf>.json}) records the spec applied and the state before jvmm's first
 * apply, which {@link #reset} restores.
 */
public final class SriovApply {
    private static final Logger LOG = LoggerFactory.getLogger(SriovApply.class);
    private final SriovManager m;
    private final Path stateDir;
    private final Duration timeout;

    /** What apply did to one PF: the actions in order, and notes such as settings skipped on a non-NIC PF. */
    public record PfReport(PciAddress pf, List<String> actions, List<String> notes) {
        public boolean changed() {
            return !actions.isEmpty();
        }
    }

    public SriovApply(SriovManager m, Path stateDir, Duration timeout) {
        this.m = m;
        this.stateDir = stateDir;
        this.timeout = timeout;
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
                        + " need attention (the state before apply is in " + stateDir + "): " + e.getMessage(), e);
                rb.forEach(f::addSuppressed);
                throw f;
            }
            throw e;
        }
        for (int k = 0; k < pfs.size(); k++) {
            writeState(pfs.get(k), spec.pfs().get(k), before.get(k), reports.get(k).changed());
        }
        return reports;
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

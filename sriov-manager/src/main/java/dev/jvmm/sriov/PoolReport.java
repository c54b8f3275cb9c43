package dev.jvmm.sriov;

import dev.jvmm.sys.json.Json;
import dev.jvmm.sys.pci.VfioUsers;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Renders VF pools and released leases for people (lines) and programs (JSON, schema in docs/sriov.md). */
public final class PoolReport {
    private PoolReport() {
    }

    /** A status as the reports name it: {@code free}, {@code leased}, {@code stale}, {@code in-use}. */
    public static String name(PoolState.Status s) {
        return s.name().toLowerCase().replace('_', '-');
    }

    public static String text(List<PoolState> pools) {
        if (pools.isEmpty()) {
            return "no VF pools: no SR-IOV PF has VFs ('jvmm sriov create PF N --autoprobe off' makes some)\n";
        }
        StringBuilder b = new StringBuilder();
        for (PoolState p : pools) {
            List<String> counts = new ArrayList<>();
            counts.add(p.with(PoolState.Status.FREE).size() + " free");
            for (PoolState.Status s : List.of(PoolState.Status.LEASED, PoolState.Status.STALE, PoolState.Status.IN_USE)) {
                if (!p.with(s).isEmpty()) {
                    counts.add(p.with(s).size() + " " + name(s));
                }
            }
            b.append("PF ").append(p.pf()).append(p.netdev() == null ? "" : " " + p.netdev())
                    .append(" (").append(p.driver() == null ? "no driver" : p.driver()).append("): ").append(p.numVfs())
                    .append(" VFs, ").append(String.join(", ", counts)).append('\n');
            for (PoolState.Slot s : p.vfs()) {
                b.append(line(s)).append('\n');
            }
        }
        return b.toString();
    }

    private static String line(PoolState.Slot s) {
        StringBuilder b = new StringBuilder(String.format("  VF %-2d %s  %-9s %-7s", s.index(), s.bdf(),
                !s.exists() ? "gone" : s.driver() == null ? "none" : s.driver(), name(s.status())));
        LeaseRecord l = s.lease();
        if (l != null) {
            b.append(" '").append(l.holder()).append("' pid ").append(l.pid()).append(" since ").append(l.acquiredAt());
            String cfg = settings(l.config());
            if (!cfg.isEmpty()) {
                b.append(' ').append(cfg);
            }
        }
        if (s.stale() != null) {
            b.append(": ").append(s.stale()).append(" ('jvmm sriov reconcile' releases it)");
        }
        if (!s.users().isEmpty()) {
            b.append(l == null ? " " : ", ").append("held through VFIO by ").append(String.join(", ",
                    s.users().stream().map(VfioUsers.User::toString).toList())).append(l == null ? ", no lease" : "");
        }
        return b.toString().stripTrailing();
    }

    /** {@code mac=52:54:00:00:aa:01 vlan=100}: the settings a lease asked for. */
    private static String settings(VfNetConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        SriovSpec.netToJson(c, m);
        List<String> out = new ArrayList<>();
        m.forEach((k, v) -> out.add(k + "=" + (v instanceof Boolean on ? (on ? "on" : "off") : v)));
        return String.join(" ", out);
    }

    public static String json(List<PoolState> pools) {
        List<Object> l = new ArrayList<>();
        for (PoolState p : pools) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("pf", p.pf().toString());
            m.put("netdev", p.netdev());
            m.put("driver", p.driver());
            m.put("totalVfs", p.totalVfs());
            m.put("numVfs", p.numVfs());
            m.put("free", p.with(PoolState.Status.FREE).size());
            List<Object> vfs = new ArrayList<>();
            for (PoolState.Slot s : p.vfs()) {
                Map<String, Object> v = new LinkedHashMap<>();
                v.put("index", s.index());
                v.put("bdf", s.bdf().toString());
                v.put("exists", s.exists());
                v.put("driver", s.driver());
                v.put("status", name(s.status()));
                v.put("stale", s.stale());
                v.put("vfioUsers", VfioUsers.User.toJson(s.users()));
                v.put("lease", s.lease() == null ? null : s.lease().toJson());
                vfs.add(v);
            }
            m.put("vfs", vfs);
            l.add(m);
        }
        Map<String, Object> top = new LinkedHashMap<>();
        top.put("pools", l);
        return Json.write(top);
    }

    /** What {@link VfPool#reclaimStale} did: one line per stale lease, released or not. */
    public static String reclaimedText(List<VfPool.Released> released) {
        if (released.isEmpty()) {
            return "no stale leases\n";
        }
        StringBuilder b = new StringBuilder();
        for (VfPool.Released r : released) {
            LeaseRecord l = r.lease();
            b.append(l.pf()).append(" VF ").append(l.index()).append(' ').append(l.vf()).append(": ")
                    .append(r.ok() ? "released" : "NOT released").append(r.stale() == null ? " the lease of '" : " the stale lease of '")
                    .append(l.holder()).append("' (pid ").append(l.pid()).append(r.stale() == null ? "" : ": " + r.stale()).append(')');
            if (r.ok()) {
                b.append(r.actions().isEmpty() ? ": the VF was already as a free VF" : ": " + String.join(", ", r.actions()));
            } else {
                b.append(": ").append(r.failure().getMessage());
            }
            b.append('\n');
        }
        return b.toString();
    }

    public static String reclaimedJson(List<VfPool.Released> released) {
        Map<String, Object> top = new LinkedHashMap<>();
        top.put("reclaimed", reclaimedValue(released));
        return Json.write(top);
    }

    /** The {@code reclaimed} array of {@link #reclaimedJson}, for a report that holds more. */
    public static List<Object> reclaimedValue(List<VfPool.Released> released) {
        List<Object> l = new ArrayList<>();
        for (VfPool.Released r : released) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("pf", r.lease().pf().toString());
            m.put("vf", r.lease().vf().toString());
            m.put("index", r.lease().index());
            m.put("holder", r.lease().holder());
            m.put("pid", r.lease().pid());
            m.put("stale", r.stale());
            m.put("released", r.ok());
            m.put("actions", r.actions());
            m.put("error", r.ok() ? null : r.failure().getMessage());
            l.add(m);
        }
        return l;
    }
}

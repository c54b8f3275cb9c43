package dev.jvmm.sys.pci;

import dev.jvmm.sys.json.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code jvmm vfio} output: the listing as a table for people or JSON for programs (schema in docs/vfio.md), and
 * one line per bind or unbind saying what was done.
 */
public final class VfioReport {
    private VfioReport() {
    }

    /** {@code viable}, {@code not viable: <devices in the way>} or {@code no IOMMU}. */
    public static String viability(IommuGroups.Viability v) {
        return v == null ? "no IOMMU" : v.viable() ? "viable" : "not viable: " + String.join(", ", v.notBoundToVfio());
    }

    private static String use(VfioHost.Entry e) {
        if (!e.users().isEmpty()) {
            return String.join(", ", e.users().stream().map(VfioUsers.User::toString).toList());
        }
        return e.upNetdevs().isEmpty() ? "-" : "host: " + String.join(",", e.upNetdevs()) + " up";
    }

    private static String driver(VfioHost.Entry e) {
        PciFunction f = e.function();
        String d = f.driver() == null ? "-" : f.driver();
        if (f.driverOverride() != null && !f.driverOverride().equals(f.driver())) {
            d += " (override " + f.driverOverride() + ")";
        }
        if (e.recorded() != null) {
            d += " (was " + (e.recorded().driver() == null ? "unbound" : e.recorded().driver()) + ")";
        }
        return d;
    }

    public static String text(VfioHost.Listing l) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"BDF", "ID", "CLASS", "DRIVER", "GROUP", "IN USE", "GROUP VIABILITY"});
        for (VfioHost.Entry e : l.entries()) {
            PciFunction f = e.function();
            rows.add(new String[] {f.address().toString(), f.id(), f.pciClass(), driver(e),
                f.iommuGroup() == null ? "-" : f.iommuGroup().toString(), use(e), viability(e.viability())});
        }
        int[] w = new int[rows.get(0).length];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        StringBuilder b = new StringBuilder();
        for (String[] r : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < r.length; i++) {
                line.append(i + 1 < r.length ? String.format("%-" + w[i] + "s  ", r[i]) : r[i]);
            }
            b.append(line.toString().stripTrailing()).append('\n');
        }
        if (l.entries().isEmpty()) {
            b.append("no PCI functions in /sys/bus/pci/devices\n");
        } else if (l.entries().stream().allMatch(e -> e.viability() == null)) {
            b.append("note: no device has an IOMMU group, so none can be given to VFIO: enable VT-d/AMD-Vi in the"
                    + " firmware and boot with intel_iommu=on or amd_iommu=on\n");
        }
        if (l.unreadableProcesses() > 0) {
            b.append("note: the open files of ").append(l.unreadableProcesses()).append(" processes could not be read;"
                    + " run as root to see every user of /dev/vfio\n");
        }
        return b.toString();
    }

    public static String json(VfioHost.Listing l) {
        List<Object> fs = new ArrayList<>();
        for (VfioHost.Entry e : l.entries()) {
            PciFunction f = e.function();
            IommuGroups.Viability v = e.viability();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("bdf", f.address().toString());
            m.put("id", f.id());
            m.put("class", f.pciClass());
            m.put("driver", f.driver());
            m.put("driverOverride", f.driverOverride());
            m.put("iommuGroup", f.iommuGroup());
            m.put("groupDevices", v == null ? List.of() : v.devices().stream().map(PciAddress::toString).toList());
            m.put("viability", v == null ? "no-iommu" : v.viable() ? "viable" : "not-viable");
            m.put("inTheWay", v == null ? List.of() : v.notBoundToVfio());
            m.put("users", VfioUsers.User.toJson(e.users()));
            m.put("netdevsUp", e.upNetdevs());
            Map<String, Object> rec = null;
            if (e.recorded() != null) {
                rec = new LinkedHashMap<>();
                rec.put("driver", e.recorded().driver());
                rec.put("driverOverride", e.recorded().override());
            }
            m.put("recorded", rec);
            fs.add(m);
        }
        Map<String, Object> top = new LinkedHashMap<>();
        top.put("functions", fs);
        top.put("unreadableProcesses", l.unreadableProcesses());
        return Json.write(top);
    }

    /** What a bind did, in one line (two with a note on the group). */
    public static String text(VfioHost.Bound b) {
        String was = b.before().driver() == null ? "unbound" : b.before().driver();
        StringBuilder s = new StringBuilder(b.address().toString());
        if (b.changed()) {
            s.append(": bound to vfio-pci (was ").append(was).append(')');
            s.append("; ").append(b.record()).append(" remembers it for 'jvmm vfio unbind'");
        } else {
            s.append(": already bound to vfio-pci").append(b.record() == null ? ""
                    : " (bound by jvmm, was " + was + ")").append("; unchanged");
        }
        s.append('\n');
        if (!b.viability().viable()) {
            s.append("note: IOMMU group ").append(b.viability().group()).append(" is not viable yet, bind these too: ")
                    .append(String.join(", ", b.viability().notBoundToVfio())).append('\n');
        }
        return s.toString();
    }

    /** What an unbind did, in one line. */
    public static String text(VfioHost.Unbound u) {
        String now = u.driver() == null ? "no driver" : u.driver();
        if (!u.changed()) {
            return u.address() + ": " + (u.recorded() == null ? "not bound to vfio-pci and no record of a bind; unchanged ("
                    + now + ")" : "already as recorded (" + now + "); record removed") + "\n";
        }
        if (u.recorded() != null) {
            return u.address() + ": restored to " + (u.recorded().driver() == null ? "no driver" : u.recorded().driver())
                    + (u.recorded().override() == null ? "" : " (driver_override " + u.recorded().override() + ")")
                    + ", as recorded by 'jvmm vfio bind'\n";
        }
        return u.address() + ": unbound from vfio-pci, driver_override cleared; " + (u.driver() == null
                ? "no host driver matched, left unbound" : "the kernel bound " + u.driver()) + "\n";
    }
}

package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Every SR-IOV capable PCI function: totalvfs, numvfs, driver, netdev, link state, NUMA node. */
final class SriovChecks {
    private SriovChecks() {
    }

    static List<SriovDevice> devices(HostView h) {
        Pci pci = new Pci(h);
        List<SriovDevice> out = new ArrayList<>();
        for (String bdf : pci.all()) {
            Path d = pci.dir(bdf);
            var total = h.number(d.resolve("sriov_totalvfs"));
            if (total.isEmpty()) {
                continue;
            }
            List<String> netdevs = h.list(d.resolve("net"));
            String oper = netdevs.isEmpty() ? "" : h.line(d.resolve("net/" + netdevs.get(0) + "/operstate")).orElse("");
            List<String> vfs = new ArrayList<>();
            for (String e : h.list(d)) {
                if (e.startsWith("virtfn")) {
                    h.linkName(d.resolve(e)).ifPresent(vfs::add);
                }
            }
            out.add(new SriovDevice(pci.device(bdf), total.get().intValue(),
                    h.number(d.resolve("sriov_numvfs")).orElse(0L).intValue(), netdevs, oper, vfs,
                    h.line(d.resolve("sriov_drivers_autoprobe")).orElse(""),
                    h.linkName(d.resolve("iommu_group")).orElse("")));
        }
        return out;
    }

    static void run(ProbeContext c, List<SriovDevice> pfs, CheckList out) {
        HostView h = c.h;
        if (pfs.isEmpty()) {
            out.add("sriov.devices", "sriov", Status.FAIL, "No SR-IOV capable PCI device",
                    "Use a NIC with SR-IOV (and SR-IOV enabled in the firmware); a PF shows sriov_totalvfs in sysfs",
                    List.of(ev(h.show(h.sys("bus/pci/devices")) + "/*/sriov_totalvfs", "none")));
            return;
        }
        long usable = pfs.stream().filter(p -> p.totalVfs() > 0).count();
        List<Evidence> sum = new ArrayList<>();
        for (SriovDevice p : pfs) {
            sum.add(ev(p.pf().bdf(), p.pf().id() + " totalvfs=" + p.totalVfs()));
        }
        out.add("sriov.devices", "sriov", usable > 0 ? Status.PASS : Status.FAIL, pfs.size()
                + " SR-IOV physical functions, " + usable + " with VFs available",
                "Every PF reports sriov_totalvfs=0: enable SR-IOV in the firmware / device configuration", sum);
        for (SriovDevice p : pfs) {
            Path d = h.sys("bus/pci/devices/" + p.pf().bdf());
            List<Evidence> ev = new ArrayList<>();
            ev.add(ev(h.show(d.resolve("sriov_totalvfs")), p.totalVfs()));
            ev.add(ev(h.show(d.resolve("sriov_numvfs")), p.numVfs()));
            ev.add(ev(h.show(d.resolve("driver")), p.pf().driver().isEmpty() ? "none" : p.pf().driver()));
            ev.add(ev(h.show(d.resolve("net")), p.netdevs().isEmpty() ? "none" : String.join(" ", p.netdevs())));
            if (!p.netdevs().isEmpty()) {
                ev.add(ev(h.show(d.resolve("net/" + p.netdevs().get(0) + "/operstate")), p.operstate()));
            }
            ev.add(ev(h.show(d.resolve("numa_node")), p.pf().numaNode()));
            if (!p.autoprobe().isEmpty()) {
                ev.add(ev(h.show(d.resolve("sriov_drivers_autoprobe")), p.autoprobe()));
            }
            ev.add(ev(h.show(d.resolve("iommu_group")), p.iommuGroup().isEmpty() ? "none" : p.iommuGroup()));
            if (!p.vfs().isEmpty()) {
                ev.add(ev("VFs", String.join(" ", p.vfs())));
            }
            String what = p.pf().bdf() + " " + p.pf().id() + (p.pf().driver().isEmpty() ? "" : " (" + p.pf().driver()
                    + ")") + (p.netdevs().isEmpty() ? "" : " " + String.join(",", p.netdevs())) + ": " + p.numVfs()
                    + " of " + p.totalVfs() + " VFs";
            String id = "sriov.pf[" + p.pf().bdf() + "]";
            if (p.totalVfs() == 0) {
                out.add(id, "sriov", Status.WARN, what + "; the device offers no VFs",
                        "Enable SR-IOV in the firmware or device configuration (firmware limit, not a kernel one)",
                        ev);
            } else if (p.pf().driver().isEmpty()) {
                out.add(id, "sriov", Status.WARN, what + "; no PF driver bound, so VFs cannot be created",
                        "Bind the PF's own driver (or pci-pf-stub) before writing sriov_numvfs", ev);
            } else if (!p.netdevs().isEmpty() && !p.operstate().equals("up") && !p.operstate().equals("unknown")) {
                out.add(id, "sriov", Status.WARN, what + "; PF link is " + p.operstate()
                        + ", VFs pass no traffic until it is up", "ip link set " + p.netdevs().get(0) + " up", ev);
            } else {
                out.add(id, "sriov", Status.PASS, what, "", ev);
            }
        }
    }
}

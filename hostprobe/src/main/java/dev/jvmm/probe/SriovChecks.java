package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciDevices;
import dev.jvmm.sys.pci.PciException;
import dev.jvmm.sys.pci.PciFunction;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Every SR-IOV capable PCI function: totalvfs, numvfs, driver, netdev, link state, NUMA node. */
final class SriovChecks {
    private SriovChecks() {
    }

    static List<SriovDevice> devices(HostView h) {
        PciDevices pci = h.pci();
        List<SriovDevice> out = new ArrayList<>();
        for (PciAddress a : pci.all()) {
            PciFunction f;
            try {
                f = pci.function(a);
            } catch (PciException e) {
                continue; // gone meanwhile, or an attribute that does not read as it should: not a PF we can judge
            }
            if (f.sriov() == null) {
                continue;
            }
            String oper = f.netdevs().isEmpty() ? "" : Optional.ofNullable(pci.operstate(a, f.netdev())).orElse("");
            out.add(new SriovDevice(f, oper));
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
            sum.add(ev(p.pf().address().toString(), p.pf().id() + " totalvfs=" + p.totalVfs()));
        }
        out.add("sriov.devices", "sriov", usable > 0 ? Status.PASS : Status.FAIL, pfs.size()
                + " SR-IOV physical functions, " + usable + " with VFs available",
                "Every PF reports sriov_totalvfs=0: enable SR-IOV in the firmware / device configuration", sum);
        for (SriovDevice p : pfs) {
            Path d = h.pci().dir(p.pf().address());
            List<Evidence> ev = new ArrayList<>();
            ev.add(ev(h.show(d.resolve("sriov_totalvfs")), p.totalVfs()));
            ev.add(ev(h.show(d.resolve("sriov_numvfs")), p.numVfs()));
            ev.add(ev(h.show(d.resolve("driver")), p.driver().isEmpty() ? "none" : p.driver()));
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
            String what = p.pf().address() + " " + p.pf().id() + (p.driver().isEmpty() ? "" : " (" + p.driver()
                    + ")") + (p.netdevs().isEmpty() ? "" : " " + String.join(",", p.netdevs())) + ": " + p.numVfs()
                    + " of " + p.totalVfs() + " VFs";
            String id = "sriov.pf[" + p.pf().address() + "]";
            if (p.totalVfs() == 0) {
                out.add(id, "sriov", Status.WARN, what + "; the device offers no VFs",
                        "Enable SR-IOV in the firmware or device configuration (firmware limit, not a kernel one)",
                        ev);
            } else if (p.driver().isEmpty()) {
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

package dev.jvmm.sriov;

import dev.jvmm.sys.json.Json;
import dev.jvmm.sys.netlink.VfInfo;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Renders PFs and VFs for people (a table) and for programs (JSON, schema in docs/sriov.md). */
public final class SriovReport {
    private SriovReport() {
    }

    public static String json(List<PfInfo> pfs) {
        List<Object> l = new ArrayList<>();
        for (PfInfo p : pfs) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("pf", p.bdf().toString());
            m.put("id", p.vendorDevice());
            m.put("driver", p.driver());
            m.put("netdevs", p.netdevs());
            m.put("totalVfs", p.totalVfs());
            m.put("numVfs", p.numVfs());
            m.put("autoprobe", p.autoprobe());
            List<Object> vfs = new ArrayList<>();
            for (VfDevice v : p.vfs()) {
                Map<String, Object> vm = new LinkedHashMap<>();
                vm.put("index", v.index());
                vm.put("bdf", v.bdf().toString());
                vm.put("driver", v.driver());
                vm.put("driverOverride", v.driverOverride());
                vm.put("iommuGroup", v.iommuGroup());
                vm.put("netdev", v.netdev());
                if (v.net() != null) {
                    Map<String, Object> n = new LinkedHashMap<>();
                    SriovSpec.netToJson(VfNetConfig.of(v.net()), n);
                    vm.put("net", n);
                }
                vfs.add(vm);
            }
            m.put("vfs", vfs);
            l.add(m);
        }
        Map<String, Object> top = new LinkedHashMap<>();
        top.put("pfs", l);
        return Json.write(top);
    }

    public static String text(List<PfInfo> pfs) {
        if (pfs.isEmpty()) {
            return "no SR-IOV physical functions found (no device in /sys/bus/pci/devices has sriov_totalvfs)\n";
        }
        StringBuilder b = new StringBuilder();
        for (PfInfo p : pfs) {
            b.append(String.format("PF %s [%s] driver %s%s: %d/%d VFs, autoprobe %s%n", p.bdf(), p.vendorDevice(),
                    p.driver() == null ? "none" : p.driver(), p.isNic() ? " netdev " + String.join(",", p.netdevs()) : " (not a NIC)",
                    p.numVfs(), p.totalVfs(), p.autoprobe() ? "on" : "off"));
            for (VfDevice v : p.vfs()) {
                b.append(String.format("  VF %-2d %s driver %-9s group %-4s netdev %-10s", v.index(), v.bdf(),
                        v.driver() == null ? "none" : v.driver(), v.iommuGroup() == null ? "-" : v.iommuGroup(),
                        v.netdev() == null ? "-" : v.netdev()));
                VfInfo n = v.net();
                if (n != null) {
                    b.append(" mac ").append(n.mac());
                    if (n.vlan() != 0) {
                        b.append(" vlan ").append(n.vlan()).append(" qos ").append(n.qos()).append(' ').append(VfNetConfig.protoName(n.vlanProto()));
                    }
                    b.append(" spoofchk ").append(onOff(n.spoofchk())).append(" trust ").append(onOff(n.trust()));
                    if (n.linkState() != null) {
                        b.append(" link-state ").append(dev.jvmm.sys.netlink.VfAttribute.LinkState.name(n.linkState()));
                    }
                    if (n.minTxRate() != 0 || n.maxTxRate() != 0) {
                        b.append(" tx-rate ").append(n.minTxRate()).append('-').append(n.maxTxRate()).append(" Mbit/s");
                    }
                }
                if (v.driverOverride() != null) {
                    b.append(" override ").append(v.driverOverride());
                }
                b.append('\n');
            }
        }
        return b.toString();
    }

    private static String onOff(Boolean b) {
        return b == null ? "n/a" : b ? "on" : "off";
    }
}

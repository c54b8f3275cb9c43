package dev.jvmm.sriov;

import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything apply may change on one PF, captured before it changes anything: the VF count, autoprobe, and per VF
 * its driver, {@code driver_override} and network settings as the PF driver reports them. Restoring a snapshot
 * puts the PF back exactly; it is also what the state file keeps for {@code jvmm sriov reset}.
 */
public record PfSnapshot(PciAddress pf, int numVfs, boolean autoprobe, List<VfState> vfs) {

    /** One VF's restorable state; {@code net} is null for a non-NIC PF. */
    public record VfState(int index, PciAddress bdf, String driver, String driverOverride, VfNetConfig net) {
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pf", pf.toString());
        m.put("numVfs", numVfs);
        m.put("autoprobe", autoprobe);
        List<Object> l = new ArrayList<>();
        for (VfState v : vfs) {
            Map<String, Object> vm = new LinkedHashMap<>();
            vm.put("index", v.index());
            vm.put("bdf", v.bdf().toString());
            vm.put("driver", v.driver());
            vm.put("driverOverride", v.driverOverride());
            if (v.net() != null) {
                Map<String, Object> nm = new LinkedHashMap<>();
                SriovSpec.netToJson(v.net(), nm);
                vm.put("net", nm);
            }
            l.add(vm);
        }
        m.put("vfs", l);
        return m;
    }

    @SuppressWarnings("unchecked")
    public static PfSnapshot fromJson(Object o) {
        try {
            Map<String, Object> m = (Map<String, Object>) o;
            List<VfState> vfs = new ArrayList<>();
            for (Object x : (List<Object>) m.get("vfs")) {
                Map<String, Object> vm = (Map<String, Object>) x;
                VfNetConfig net = null;
                if (vm.get("net") != null) {
                    net = SriovSpec.netFromJson(vm.get("net"));
                }
                vfs.add(new VfState(i(vm.get("index")), PciAddress.parse((String) vm.get("bdf")), (String) vm.get("driver"),
                        (String) vm.get("driverOverride"), net));
            }
            return new PfSnapshot(PciAddress.parse((String) m.get("pf")), i(m.get("numVfs")), (Boolean) m.get("autoprobe"),
                    List.copyOf(vfs));
        } catch (ClassCastException | NullPointerException | PciException e) {
            throw new SriovException(SriovException.Reason.STATE, "state record is malformed: " + e.getMessage(), e);
        }
    }

    static Integer i(Object o) {
        return o == null ? null : ((Number) o).intValue();
    }
}

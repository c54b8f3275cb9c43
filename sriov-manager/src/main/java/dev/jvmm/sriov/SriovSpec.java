package dev.jvmm.sriov;

import dev.jvmm.sys.json.Json;
import static dev.jvmm.sriov.SriovException.Reason.INVALID_ARGUMENT;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The declarative input of {@code jvmm sriov apply} (schema in docs/sriov.md):
 * <pre>{"pfs":[{"pf":"0000:01:00.0","numVfs":4,"autoprobe":false,
 *        "vfs":[{"index":0,"mac":"52:54:00:00:00:10","vlan":10,"qos":3,"proto":"802.1Q","spoofchk":true,
 *                "trust":false,"linkState":"auto","minTxRate":0,"maxTxRate":100,"driver":"vfio-pci"}]}]}</pre>
 * Parsing is strict: unknown keys, wrong types and out-of-range values are errors naming their JSON path.
 */
public record SriovSpec(List<PfSpec> pfs) {

    /** One PF: its VF count, optionally {@code sriov_drivers_autoprobe}, and per-VF settings. */
    public record PfSpec(String pf, int numVfs, Boolean autoprobe, List<VfSpec> vfs) {
    }

    /**
     * One VF: network settings (ignored with a message for a non-NIC PF) and the driver: a driver name such as
     * {@code vfio-pci}, or {@code host} for the kernel's default driver; null leaves the binding alone.
     */
    public record VfSpec(int index, VfNetConfig net, String driver) {
    }

    public static SriovSpec parse(String json) {
        Object root;
        try {
            root = Json.parse(json);
        } catch (Json.ParseException e) {
            throw new SriovException(INVALID_ARGUMENT, "spec is not valid JSON: " + e.getMessage(), e);
        }
        Map<String, Object> top = obj(root, "$", Set.of("pfs"));
        List<Object> pfs = list(top.get("pfs"), "$.pfs", true);
        List<PfSpec> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int p = 0; p < pfs.size(); p++) {
            String at = "$.pfs[" + p + "]";
            Map<String, Object> m = obj(pfs.get(p), at, Set.of("pf", "numVfs", "autoprobe", "vfs"));
            String pf = str(m.get("pf"), at + ".pf", true);
            if (!seen.add(pf)) {
                throw bad(at + ".pf: PF " + pf + " appears twice");
            }
            Integer num = integer(m.get("numVfs"), at + ".numVfs", true, 0, 4096);
            Boolean auto = bool(m.get("autoprobe"), at + ".autoprobe");
            List<VfSpec> vfs = new ArrayList<>();
            Set<Integer> idx = new HashSet<>();
            List<Object> vl = list(m.get("vfs"), at + ".vfs", false);
            for (int v = 0; v < vl.size(); v++) {
                String vat = at + ".vfs[" + v + "]";
                Map<String, Object> vm = obj(vl.get(v), vat, Set.of("index", "mac", "vlan", "qos", "proto", "spoofchk",
                        "trust", "linkState", "minTxRate", "maxTxRate", "driver"));
                int index = integer(vm.get("index"), vat + ".index", true, 0, 4095);
                if (index >= num) {
                    throw bad(vat + ".index: VF " + index + " does not exist with numVfs " + num);
                }
                if (!idx.add(index)) {
                    throw bad(vat + ".index: VF " + index + " appears twice");
                }
                VfNetConfig net;
                try {
                    net = new VfNetConfig(str(vm.get("mac"), vat + ".mac", false),
                            integer(vm.get("vlan"), vat + ".vlan", false, Integer.MIN_VALUE, Integer.MAX_VALUE),
                            integer(vm.get("qos"), vat + ".qos", false, Integer.MIN_VALUE, Integer.MAX_VALUE),
                            str(vm.get("proto"), vat + ".proto", false), bool(vm.get("spoofchk"), vat + ".spoofchk"),
                            bool(vm.get("trust"), vat + ".trust"), str(vm.get("linkState"), vat + ".linkState", false),
                            integer(vm.get("minTxRate"), vat + ".minTxRate", false, 0, Integer.MAX_VALUE),
                            integer(vm.get("maxTxRate"), vat + ".maxTxRate", false, 0, Integer.MAX_VALUE));
                } catch (SriovException e) {
                    throw new SriovException(INVALID_ARGUMENT, vat + ": " + e.getMessage(), e);
                }
                String driver = str(vm.get("driver"), vat + ".driver", false);
                if (driver != null && !driver.matches("[A-Za-z0-9_.-]+")) {
                    throw bad(vat + ".driver: '" + driver + "' is not a driver name");
                }
                vfs.add(new VfSpec(index, net, driver));
            }
            out.add(new PfSpec(pf, num, auto, List.copyOf(vfs)));
        }
        return new SriovSpec(List.copyOf(out));
    }

    private static SriovException bad(String m) {
        return new SriovException(INVALID_ARGUMENT, "spec " + m);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> obj(Object o, String at, Set<String> keys) {
        if (!(o instanceof Map)) {
            throw bad(at + ": expected an object");
        }
        Map<String, Object> m = (Map<String, Object>) o;
        for (String k : m.keySet()) {
            if (!keys.contains(k)) {
                throw bad(at + "." + k + ": unknown key (allowed: " + String.join(", ", keys.stream().sorted().toList()) + ")");
            }
        }
        return m;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o, String at, boolean required) {
        if (o == null) {
            if (required) {
                throw bad(at + ": required");
            }
            return List.of();
        }
        if (!(o instanceof List)) {
            throw bad(at + ": expected an array");
        }
        return (List<Object>) o;
    }

    private static String str(Object o, String at, boolean required) {
        if (o == null) {
            if (required) {
                throw bad(at + ": required");
            }
            return null;
        }
        if (!(o instanceof String s)) {
            throw bad(at + ": expected a string");
        }
        return s;
    }

    private static Boolean bool(Object o, String at) {
        if (o == null) {
            return null;
        }
        if (!(o instanceof Boolean b)) {
            throw bad(at + ": expected true or false");
        }
        return b;
    }

    private static Integer integer(Object o, String at, boolean required, int min, int max) {
        if (o == null) {
            if (required) {
                throw bad(at + ": required");
            }
            return null;
        }
        if (!(o instanceof Long l)) {
            throw bad(at + ": expected an integer");
        }
        if (l < min || l > max) {
            throw bad(at + ": " + l + " is out of range " + min + ".." + max);
        }
        return l.intValue();
    }

    /** This PF spec as JSON-ready maps (for the state file). */
    public static Map<String, Object> toJson(PfSpec p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pf", p.pf());
        m.put("numVfs", p.numVfs());
        if (p.autoprobe() != null) {
            m.put("autoprobe", p.autoprobe());
        }
        List<Object> vfs = new ArrayList<>();
        for (VfSpec v : p.vfs()) {
            Map<String, Object> vm = new LinkedHashMap<>();
            vm.put("index", v.index());
            netToJson(v.net(), vm);
            if (v.driver() != null) {
                vm.put("driver", v.driver());
            }
            vfs.add(vm);
        }
        m.put("vfs", vfs);
        return m;
    }

    static void netToJson(VfNetConfig n, Map<String, Object> vm) {
        putIf(vm, "mac", n.mac());
        putIf(vm, "vlan", n.vlan());
        putIf(vm, "qos", n.qos());
        putIf(vm, "proto", n.proto());
        putIf(vm, "spoofchk", n.spoofchk());
        putIf(vm, "trust", n.trust());
        putIf(vm, "linkState", n.linkState());
        putIf(vm, "minTxRate", n.minTxRate());
        putIf(vm, "maxTxRate", n.maxTxRate());
    }

    /**
     * The inverse of {@link #netToJson} for records jvmm wrote itself (state and lease files); a malformed one
     * throws ClassCastException, which the reader turns into its own error.
     */
    @SuppressWarnings("unchecked")
    static VfNetConfig netFromJson(Object o) {
        Map<String, Object> nm = (Map<String, Object>) o;
        return new VfNetConfig((String) nm.get("mac"), PfSnapshot.i(nm.get("vlan")), PfSnapshot.i(nm.get("qos")),
                (String) nm.get("proto"), (Boolean) nm.get("spoofchk"), (Boolean) nm.get("trust"),
                (String) nm.get("linkState"), PfSnapshot.i(nm.get("minTxRate")), PfSnapshot.i(nm.get("maxTxRate")));
    }

    private static void putIf(Map<String, Object> m, String k, Object v) {
        if (v != null) {
            m.put(k, v);
        }
    }
}

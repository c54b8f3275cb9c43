package dev.jvmm.probe;

import dev.jvmm.sys.json.Json;
import dev.jvmm.sys.pci.PciFunction;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The {@code jvmm probe --json} document; its schema ({@value #SCHEMA}) is documented in docs/probe.md. */
public final class ReportJson {
    /** Bumped on any incompatible change; fields may be added without a bump. */
    public static final String SCHEMA = "jvmm-probe/1";

    private ReportJson() {
    }

    public static String write(ProbeReport r) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("schema", SCHEMA);
        Map<String, Object> host = new LinkedHashMap<>();
        host.put("kernel", r.host().kernel());
        host.put("arch", r.host().arch());
        host.put("cpuModel", r.host().cpuModel());
        host.put("logicalCpus", r.host().logicalCpus());
        host.put("memoryBytes", r.host().memoryBytes());
        host.put("virtualized", r.host().virtualized());
        root.put("host", host);
        Map<String, Object> opts = new LinkedHashMap<>();
        opts.put("guestMemoryBytes", r.options().guestMemoryBytes());
        opts.put("measureKvmSpeed", r.options().measureKvmSpeed());
        root.put("options", opts);
        Map<String, Object> verdicts = new LinkedHashMap<>();
        for (UseCase u : UseCase.values()) {
            Verdict v = r.verdict(u);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ready", v.ready());
            m.put("blocking", reasons(v.blocking()));
            m.put("warnings", reasons(v.warnings()));
            verdicts.put(u.id(), m);
        }
        root.put("verdicts", verdicts);
        List<Object> checks = new ArrayList<>();
        for (Check c : r.checks()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", c.id());
            m.put("category", c.category());
            m.put("status", c.status().name());
            m.put("title", c.title());
            List<Object> ev = new ArrayList<>();
            for (Evidence e : c.evidence()) {
                Map<String, Object> em = new LinkedHashMap<>();
                em.put("source", e.source());
                em.put("value", e.value());
                ev.add(em);
            }
            m.put("evidence", ev);
            m.put("remedy", c.remedy());
            checks.add(m);
        }
        root.put("checks", checks);
        Map<String, Object> kvm = new LinkedHashMap<>();
        KvmSpeed.Result s = r.kvmSpeed();
        kvm.put("instructions", s == null ? null : s.instructions());
        kvm.put("nanos", s == null ? null : s.nanos());
        kvm.put("instructionsPerSecond", s == null ? null : s.instructionsPerSecond());
        kvm.put("hardwareSpeed", s == null ? null : s.hardwareSpeed());
        root.put("kvmSpeed", kvm);
        List<Object> groups = new ArrayList<>();
        for (IommuGroup g : r.iommuGroups()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", g.id());
            m.put("type", g.type());
            m.put("viable", g.viable());
            m.put("isolated", g.isolated());
            List<Object> devs = new ArrayList<>();
            for (PciFunction d : g.devices()) {
                devs.add(device(d));
            }
            m.put("devices", devs);
            groups.add(m);
        }
        root.put("iommuGroups", groups);
        List<Object> pfs = new ArrayList<>();
        for (SriovDevice p : r.sriov()) {
            Map<String, Object> m = device(p.pf());
            m.put("totalVfs", p.totalVfs());
            m.put("numVfs", p.numVfs());
            m.put("netdevs", new ArrayList<Object>(p.netdevs()));
            m.put("operstate", p.operstate());
            m.put("vfs", new ArrayList<Object>(p.vfs()));
            m.put("driversAutoprobe", p.autoprobe());
            m.put("iommuGroup", p.iommuGroup());
            pfs.add(m);
        }
        root.put("sriov", pfs);
        root.put("postedInterrupts", r.check(PostedInterrupts.CHECK_ID).map(ReportJson::postedInterrupts)
                .orElse(null));
        return Json.write(root);
    }

    /** The posted-interrupt answer on its own ({@code yes}, {@code partly}, {@code no}, {@code unknown}), for scripts. */
    private static Map<String, Object> postedInterrupts(Check c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("answer", c.evidence("answer").orElse("unknown"));
        m.put("status", c.status().name());
        m.put("title", c.title());
        m.put("remedy", c.remedy());
        return m;
    }

    private static Map<String, Object> device(PciFunction d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("bdf", d.address().toString());
        m.put("vendor", d.vendor());
        m.put("device", d.device());
        m.put("class", d.pciClass());
        m.put("driver", d.driver() == null ? "" : d.driver());
        m.put("numaNode", d.numaNode());
        return m;
    }

    private static List<Object> reasons(List<Verdict.Reason> rs) {
        List<Object> out = new ArrayList<>();
        for (Verdict.Reason r : rs) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("check", r.check());
            m.put("reason", r.text());
            out.add(m);
        }
        return out;
    }
}

package dev.jvmm.probe;

import dev.jvmm.sys.json.Json;
import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.junit.LabTest;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Lab tier: the probe inside the emulated host (L1: intel-iommu with interrupt remapping, igb and NVMe SR-IOV PFs,
 * vfio loaded by the lab's init). Expected values are read from L1's sysfs in the same session, not hard-coded.
 */
@LabTest
class ProbeLabTest {
    @SuppressWarnings("unchecked")
    private static Map<String, Object> probeJson(LabSession lab) throws Json.ParseException {
        CommandResult r = lab.runJava(L1Probe.class.getName(), List.of(), Duration.ofMinutes(5)).assertOk();
        System.out.println("jvmm probe in L1:\n" + r.output());
        String out = r.output();
        int b = out.indexOf(L1Probe.BEGIN);
        int e = out.indexOf(L1Probe.END);
        assertTrue(b >= 0 && e > b, out);
        return (Map<String, Object>) Json.parse(out.substring(b + L1Probe.BEGIN.length(), e));
    }

    @Test
    @SuppressWarnings("unchecked")
    void reportsIommuSriovVfioAndPassthroughReady(LabSession lab) throws Exception {
        // facts straight from L1's sysfs
        CommandResult facts = lab.run("for d in /sys/bus/pci/devices/*; do [ -f $d/sriov_totalvfs ] &&"
                + " echo \"PF ${d##*/} $(cat $d/vendor) $(cat $d/device) $(cat $d/sriov_totalvfs)\"; done;"
                + " echo GROUPS $(ls /sys/kernel/iommu_groups | wc -l)", Duration.ofMinutes(1)).assertOk();
        Map<String, Integer> totalVfsById = new HashMap<>();
        Map<String, String> bdfById = new HashMap<>();
        int groups = -1;
        for (String l : facts.lines()) {
            String[] f = l.trim().split("\\s+");
            if (f[0].equals("PF")) {
                String id = f[2].substring(2) + ":" + f[3].substring(2);
                totalVfsById.put(id, Integer.parseInt(f[4]));
                bdfById.put(id, f[1]);
            } else if (f[0].equals("GROUPS")) {
                groups = Integer.parseInt(f[1]);
            }
        }
        assertTrue(totalVfsById.containsKey("8086:10c9") && totalVfsById.containsKey("1b36:0010"),
                "the lab's L1 should have the igb and NVMe PFs: " + facts.output());
        assertTrue(groups > 0, facts.output());

        Map<String, Object> j = probeJson(lab);
        // IOMMU on, with its groups
        Map<String, Object> enabled = VirtHostValidate.check(j, "iommu.enabled");
        assertEquals("PASS", enabled.get("status"), enabled.toString());
        assertEquals(groups + " groups", VirtHostValidate.evidence(enabled, "/sys/kernel/iommu_groups").orElseThrow());
        assertEquals(groups, ((List<Object>) j.get("iommuGroups")).size());
        assertEquals("PASS", VirtHostValidate.check(j, "iommu.interrupt-remapping").get("status"));
        // both PFs, with the totalvfs sysfs shows
        List<Object> sriov = (List<Object>) j.get("sriov");
        for (var want : totalVfsById.entrySet()) {
            Map<String, Object> pf = sriov.stream().map(o -> (Map<String, Object>) o)
                    .filter(p -> want.getKey().equals(p.get("vendor") + ":" + p.get("device"))).findFirst()
                    .orElseThrow(() -> new AssertionError("probe did not report PF " + want.getKey() + ": " + sriov));
            assertEquals((long) want.getValue(), pf.get("totalVfs"), pf.toString());
            assertEquals(bdfById.get(want.getKey()), pf.get("bdf"));
            assertFalse(((String) pf.get("iommuGroup")).isEmpty(), pf.toString());
        }
        // vfio available, KVM usable
        Map<String, Object> vfio = VirtHostValidate.check(j, "vfio.modules");
        assertNotEquals("FAIL", vfio.get("status"), vfio.toString());
        assertEquals("PASS", VirtHostValidate.check(j, "cpu.virt").get("status"));
        assertEquals("PASS", VirtHostValidate.check(j, "kvm.capabilities").get("status"));
        // the guest loop ran on L1's nested KVM (its rate is reported, never asserted)
        Map<String, Object> speed = (Map<String, Object>) j.get("kvmSpeed");
        assertNotNull(speed.get("instructionsPerSecond"), VirtHostValidate.check(j, "kvm.speed").toString());
        // the verdicts
        Map<String, Object> verdicts = (Map<String, Object>) j.get("verdicts");
        Map<String, Object> pt = (Map<String, Object>) verdicts.get("passthrough");
        assertEquals(true, pt.get("ready"), "passthrough blocked by " + pt.get("blocking"));
        Map<String, Object> sv = (Map<String, Object>) verdicts.get("sriov");
        assertEquals(true, sv.get("ready"), "sriov blocked by " + sv.get("blocking"));
        // posted interrupts: the probe's answer is the one docs/probe.md's shell script reads from L1's own sysfs
        CommandResult pi = lab.run(postedInterruptsScript(), Duration.ofMinutes(1)).assertOk();
        System.out.println("posted interrupts from L1's sysfs: " + pi.output().strip());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("answer=(\\w+)").matcher(pi.output());
        assertTrue(m.find(), pi.output());
        Map<String, Object> posted = (Map<String, Object>) j.get("postedInterrupts");
        assertEquals(m.group(1), posted.get("answer"), posted + " vs " + pi.output());
        assertEquals(VirtHostValidate.check(j, "iommu.posted-interrupts").get("status"), posted.get("status"));
    }

    /** The shell script of docs/probe.md ("The same answer from a shell"): the docs' own copy, so it stays true. */
    private static String postedInterruptsScript() throws java.io.IOException {
        String doc = java.nio.file.Files.readString(java.nio.file.Path.of(System.getProperty("user.dir"))
                .getParent().resolve("docs/probe.md"));
        int at = doc.indexOf("**The same answer from a shell**");
        int b = doc.indexOf("```sh\n", at);
        int e = doc.indexOf("\n```", b + 6);
        assertTrue(at >= 0 && b > at && e > b, "docs/probe.md lost its posted-interrupts script");
        return doc.substring(b + 6, e);
    }

    @Test
    void agreesWithVirtHostValidateInL1(LabSession lab) throws Exception {
        CommandResult v = lab.run("virt-host-validate qemu", Duration.ofMinutes(2));
        assertFalse(v.timedOut());
        List<VirtHostValidate.Line> lines = VirtHostValidate.parse(v.output());
        assertFalse(lines.isEmpty(), "virt-host-validate (libvirt-clients) must be installed on the host: "
                + v.output());
        List<VirtHostValidate.Comparison> cs = VirtHostValidate.compare(lines, probeJson(lab));
        System.out.println("virt-host-validate qemu in L1:\n" + v.output() + "\ncompared:\n"
                + VirtHostValidate.describe(cs));
        for (VirtHostValidate.Comparison c : cs) {
            assertTrue(c.agrees() || c.knownDifference() != null, "disagree in L1:\n" + VirtHostValidate.describe(cs));
        }
    }
}

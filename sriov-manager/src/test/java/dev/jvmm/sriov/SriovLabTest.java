package dev.jvmm.sriov;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.junit.LabTest;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Lab tier: the real igb (8086:10c9, igbvf VFs) and NVMe (1b36:0010) SR-IOV PFs of the emulated host. iproute2's
 * {@code ip -d link show} and sysfs {@code driver} links are the independent readers. One L1 boot for everything.
 */
@LabTest
class SriovLabTest {
    private static final Duration T = Duration.ofMinutes(5);
    private static final String STATE = "/tmp/jvmm-sriov-state"; // tmpfs in L1: the host root is read-only there
    private static final String IGB = "0000:01:00.0";
    private static final String NVME = "0000:02:00.0";

    private static final String SPEC_A = """
            {"pfs":[{"pf":"0000:01:00.0","numVfs":4,"vfs":[
              {"index":0,"mac":"52:54:00:00:00:10","vlan":10,"qos":3,"spoofchk":false,"trust":true},
              {"index":1,"mac":"52:54:00:00:00:11","maxTxRate":100},
              {"index":2,"mac":"52:54:00:00:00:12","driver":"vfio-pci"},
              {"index":3,"mac":"52:54:00:00:00:13","trust":true,"driver":"vfio-pci"}]}]}""";
    private static final String SPEC_B = """
            {"pfs":[{"pf":"0000:01:00.0","numVfs":2,"vfs":[
              {"index":0,"mac":"52:54:00:00:00:20","vlan":20},
              {"index":1,"mac":"52:54:00:00:00:21","driver":"vfio-pci"}]}]}""";
    /** VF 3 asks for an 802.1ad tag, which igb refuses (EPROTONOSUPPORT) after VFs 0-2 were configured. */
    private static final String SPEC_FAIL = """
            {"pfs":[{"pf":"0000:01:00.0","numVfs":4,"vfs":[
              {"index":0,"mac":"52:54:00:00:00:30","vlan":30},
              {"index":1,"mac":"52:54:00:00:00:31","driver":"vfio-pci"},
              {"index":2,"mac":"52:54:00:00:00:32","spoofchk":false},
              {"index":3,"vlan":100,"proto":"802.1ad"}]}]}""";
    private static final String SPEC_NVME = """
            {"pfs":[{"pf":"0000:02:00.0","numVfs":2,"autoprobe":false,"vfs":[
              {"index":0,"mac":"52:54:00:00:00:40","driver":"vfio-pci"},{"index":1,"driver":"vfio-pci"}]}]}""";

    private static List<String> tagged(CommandResult r, String tag) {
        return r.lines().stream().filter(l -> l.startsWith(tag + " ")).map(l -> l.substring(tag.length() + 1)).toList();
    }

    private static CommandResult java(LabSession lab, String... args) {
        CommandResult r = lab.runJava(SriovLabScenario.class.getName(), List.of(args), T);
        assertEquals(0, r.exitCode(), r.output());
        return r;
    }

    private static String snapshot(LabSession lab, String pf) {
        return tagged(java(lab, "snapshot", STATE, pf), "SNAPSHOT").get(0);
    }

    private static String vfLines(LabSession lab) {
        return lab.run("ip -d link show dev $(ls /sys/bus/pci/devices/" + IGB + "/net) | grep '    vf '; "
                + "for v in /sys/bus/pci/devices/" + IGB + "/virtfn*; do echo $v $(basename $(readlink $v/driver)); done", T)
                .assertOk().output();
    }

    private static String driver(LabSession lab, String bdf) {
        return lab.run("basename $(readlink /sys/bus/pci/devices/" + bdf + "/driver) 2>/dev/null || echo none", T).assertOk().output().trim();
    }

    @Test
    void igbAndNvmeApplyIdempotenceCountChangeRollbackAndReset(LabSession lab) {
        // the PF link must be up for igb to accept a TX rate limit
        lab.run("ip link set dev $(ls /sys/bus/pci/devices/" + IGB + "/net) up && rm -rf " + STATE, T).assertOk();
        String igbBefore = snapshot(lab, IGB);
        String nvmeBefore = snapshot(lab, NVME);

        // 1. apply: 4 VFs, MAC/VLAN/QoS/spoofchk/trust/rate, two VFs on vfio-pci
        CommandResult a = java(lab, "apply", STATE, SPEC_A);
        assertEquals(List.of(), tagged(a, "FAILED"), a.output());
        assertEquals(List.of(IGB + " changed=true"), tagged(a, "RESULT"));
        String ip = vfLines(lab);
        assertTrue(ip.contains("vf 0     link/ether 52:54:00:00:00:10 brd ff:ff:ff:ff:ff:ff, vlan 10, qos 3, spoof checking off, link-state auto, trust on"), ip);
        assertTrue(ip.contains("vf 1     link/ether 52:54:00:00:00:11") && ip.contains("max_tx_rate 100Mbps"), ip);
        assertTrue(ip.contains("vf 3     link/ether 52:54:00:00:00:13 brd ff:ff:ff:ff:ff:ff, spoof checking on, link-state auto, trust on"), ip);
        assertEquals("vfio-pci", driver(lab, "0000:01:10.4"));
        assertEquals("vfio-pci", driver(lab, "0000:01:10.6"));
        assertEquals("igbvf", driver(lab, "0000:01:10.0"));

        // 2. re-apply: nothing changes
        CommandResult again = java(lab, "apply", STATE, SPEC_A);
        assertEquals(List.of(IGB + " changed=false"), tagged(again, "RESULT"), again.output());
        assertEquals(List.of(), tagged(again, "ACTION"));
        assertEquals(ip, vfLines(lab));
        System.out.println("[sriov-lab] re-apply took " + tagged(again, "ELAPSED_MS").get(0) + " ms (first apply "
                + tagged(a, "ELAPSED_MS").get(0) + " ms)");

        // 3. change the count: 4 -> 0 -> 2
        CommandResult b = java(lab, "apply", STATE, SPEC_B);
        assertTrue(tagged(b, "ACTION").contains(IGB + " sriov_numvfs 4 -> 0 -> 2"), b.output());
        assertEquals("vfio-pci", driver(lab, "0000:01:10.2"));
        String beforeFail = vfLines(lab);
        String snapBeforeFail = snapshot(lab, IGB);

        // 4. failure part-way (VF 3, after the count went 2 -> 0 -> 4 and VFs 0-2 were set): exact rollback
        CommandResult f = java(lab, "apply", STATE, SPEC_FAIL);
        List<String> failed = tagged(f, "FAILED");
        assertEquals(1, failed.size(), f.output());
        assertTrue(failed.get(0).startsWith("NETLINK ") && failed.get(0).contains("VF 3: the kernel rejected IFLA_VF_VLAN_LIST"),
                failed.get(0));
        assertEquals(List.of(), tagged(f, "SUPPRESSED"));
        assertEquals(snapBeforeFail, snapshot(lab, IGB), "PF state after rollback");
        assertEquals(beforeFail, vfLines(lab), "ip -d link show and drivers after rollback");

        // 5. NVMe PF: VFs and vfio-pci, network settings skipped with a note
        CommandResult n = java(lab, "apply", STATE, SPEC_NVME);
        assertEquals(List.of(NVME + " changed=true"), tagged(n, "RESULT"), n.output());
        assertTrue(tagged(n, "NOTE").get(0).contains("is not a network device: network settings of VF [0] skipped"), n.output());
        assertEquals("vfio-pci", driver(lab, "0000:02:00.1"));
        assertEquals("vfio-pci", driver(lab, "0000:02:00.2"));

        // 6. reset both: back to the state before the first apply, records gone
        java(lab, "reset", STATE, IGB);
        java(lab, "reset", STATE, NVME);
        assertEquals(igbBefore, snapshot(lab, IGB));
        assertEquals(nvmeBefore, snapshot(lab, NVME));
        assertFalse(lab.run("ls " + STATE + "/*.json", T).ok(), "state records removed");
    }
}

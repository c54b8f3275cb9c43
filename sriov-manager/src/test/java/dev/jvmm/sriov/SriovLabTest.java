package dev.jvmm.sriov;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.junit.LabTest;
import java.time.Duration;
import java.util.ArrayList;
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
    private static final String LEASES = "/run/jvmm/leases"; // the default lease directory; /run is a tmpfs in L1

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

    private static String override(LabSession lab, String bdf) {
        return lab.run("cat /sys/bus/pci/devices/" + bdf + "/driver_override", T).assertOk().output().trim();
    }

    /** The line {@code ip link show} prints for VF {@code index} of {@code pf}. */
    private static String vfLine(LabSession lab, String pf, int index) {
        String out = lab.run("ip link show dev " + pf, T).assertOk().output();
        return out.lines().map(String::trim).filter(l -> l.startsWith("vf " + index + " ")).findFirst()
                .orElseThrow(() -> new AssertionError("no 'vf " + index + "' line in:\n" + out));
    }

    /**
     * Starts a JVM in L1's background that takes a VF from the igb PF's pool for {@code holder} and holds it; waits
     * for it to say so. Returns its {@code LEASED} line: VF address, VF index, pid.
     */
    private static String[] holdLease(LabSession lab, String holder, String mac, int vlan) {
        String log = "/tmp/jvmm-lease-" + holder + ".log";
        lab.run(LabSession.javaCommand(SriovLabScenario.class.getName(), List.of("lease", LEASES, IGB, mac,
                Integer.toString(vlan), holder)) + " > " + log + " 2>&1 < /dev/null &", T).assertOk();
        CommandResult w = lab.run("for i in $(seq 600); do grep -q '^LEASED \\|^FAILED ' " + log + " && break; sleep 0.2;"
                + " done; cat " + log, T).assertOk();
        List<String> leased = tagged(w, "LEASED");
        assertEquals(1, leased.size(), w.output());
        return leased.get(0).split(" ");
    }

    /** Sends {@code signal} to {@code pid} and waits until it has exited (gone, or a zombie nobody reaped yet). */
    private static void killAndWait(LabSession lab, String signal, String pid) {
        lab.run("kill -" + signal + " " + pid + " && for i in $(seq 300); do s=$(cut -d' ' -f3 /proc/" + pid
                + "/stat 2>/dev/null); { [ -z \"$s\" ] || [ \"$s\" = Z ]; } && exit 0; sleep 0.1; done; exit 1", T).assertOk();
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

    /**
     * Issue 13's pool: two VMMs (child JVMs) take different VFs of the igb PF, each with its MAC and VLAN and bound to
     * vfio-pci; the first is killed with SIGKILL, so its lease is left behind, and {@code reconcile} finds it stale,
     * resets its VF and gives it back to its driver (none: autoprobe off) without touching the second, which then
     * ends with SIGTERM and closes its own lease. {@code ip link show} and sysfs are the independent readers.
     */
    @Test
    void vfPoolLeasesAcrossProcessesAndReconcileAfterKill9(LabSession lab) {
        String pf = lab.run("ls /sys/bus/pci/devices/" + IGB + "/net", T).assertOk().output().trim();
        String autoprobe = lab.run("cat /sys/bus/pci/devices/" + IGB + "/sriov_drivers_autoprobe", T).assertOk().output().trim();
        lab.run("ip link set dev " + pf + " up && rm -rf " + LEASES + " /tmp/jvmm-lease-*.log", T).assertOk();
        java(lab, "numvfs", IGB, "2", "off");
        List<String> pids = new ArrayList<>();
        try {
            // 1. a VMM takes a VF: MAC and VLAN set over rtnetlink, bound to vfio-pci
            String[] a = holdLease(lab, "vm-a", "52:54:00:00:aa:01", 100);
            pids.add(a[2]);
            int ia = Integer.parseInt(a[1]);
            String la = vfLine(lab, pf, ia);
            assertTrue(la.contains("link/ether 52:54:00:00:aa:01") && la.contains(", vlan 100,"), la);
            assertEquals("vfio-pci", driver(lab, a[0]));

            // 2. a second VMM gets the other VF
            String[] b = holdLease(lab, "vm-b", "52:54:00:00:aa:02", 200);
            pids.add(b[2]);
            int ib = Integer.parseInt(b[1]);
            assertNotEquals(a[0], b[0]);
            String lb = vfLine(lab, pf, ib);
            assertTrue(lb.contains("link/ether 52:54:00:00:aa:02") && lb.contains(", vlan 200,"), lb);
            assertEquals("vfio-pci", driver(lab, b[0]));
            assertEquals(List.of(a[0] + " leased vm-a", b[0] + " leased vm-b").stream().sorted().toList(),
                    tagged(java(lab, "leases", LEASES, IGB), "VF").stream().sorted().toList());

            // 3. SIGKILL: the first VMM cannot clean up; its lease is stale
            killAndWait(lab, "KILL", a[2]);
            CommandResult st = java(lab, "leases", LEASES, IGB);
            assertTrue(tagged(st, "VF").contains(a[0] + " stale vm-a"), st.output());
            System.out.println("[sriov-lab] pool after kill -9:\n" + String.join("\n", tagged(st, "REPORT")));

            // 4. reconcile: the stale lease is released, the VF reset and given back; the live lease is not touched
            CommandResult r = java(lab, "reconcile", LEASES, IGB);
            List<String> rec = tagged(r, "RECLAIMED");
            assertEquals(1, rec.size(), r.output());
            assertTrue(rec.get(0).startsWith(a[0] + " vm-a ok ["), rec.get(0));
            assertTrue(rec.get(0).contains("IFLA_VF_MAC mac=00:00:00:00:00:00") && rec.get(0).contains("IFLA_VF_VLAN vlan=0")
                    && rec.get(0).endsWith("driver vfio-pci -> none"), rec.get(0));
            System.out.println("[sriov-lab] reconcile: " + String.join("\n", tagged(r, "REPORT")));
            la = vfLine(lab, pf, ia);
            assertTrue(la.contains("link/ether 00:00:00:00:00:00") && !la.contains("vlan"), la);
            assertEquals("none", driver(lab, a[0]));
            assertEquals("(null)", override(lab, a[0]));
            assertFalse(lab.run("test -e " + LEASES + "/" + IGB + "/" + a[0] + ".json", T).ok(), "lease file removed");
            assertEquals(lb, vfLine(lab, pf, ib), "the live lease's VF is untouched");
            assertEquals("vfio-pci", driver(lab, b[0]));

            // 5. SIGTERM: the second VMM closes its own lease on the way out
            killAndWait(lab, "TERM", b[2]);
            String logB = lab.run("cat /tmp/jvmm-lease-vm-b.log", T).assertOk().output();
            assertTrue(logB.contains("RELEASED " + b[0]), logB);
            lb = vfLine(lab, pf, ib);
            assertTrue(lb.contains("link/ether 00:00:00:00:00:00") && !lb.contains("vlan"), lb);
            assertEquals("none", driver(lab, b[0]));
            assertFalse(lab.run("ls " + LEASES + "/" + IGB + "/*.json", T).ok(), "no lease files left");
        } finally {
            for (String pid : pids) {
                lab.run("kill -KILL " + pid + " 2>/dev/null; true", T);
            }
            lab.runJava(SriovLabScenario.class.getName(), List.of("reconcile", LEASES, IGB), T);
            java(lab, "numvfs", IGB, "0", "0".equals(autoprobe) ? "off" : "on");
            lab.run("rm -rf " + LEASES + " /tmp/jvmm-lease-*.log", T);
        }
    }
}

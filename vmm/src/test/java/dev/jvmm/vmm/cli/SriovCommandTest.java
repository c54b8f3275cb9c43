package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sriov.FakeHost;
import dev.jvmm.sriov.FakeProc;
import dev.jvmm.sriov.LeaseRecord;
import dev.jvmm.sriov.SriovApply;
import dev.jvmm.sriov.SriovManager;
import dev.jvmm.sriov.VfNetConfig;
import dev.jvmm.sriov.VfPool;
import dev.jvmm.sys.json.Json;
import dev.jvmm.sys.pci.PciAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code jvmm sriov leases|reconcile}: parsing, output, exit codes and one-line errors on the fake SR-IOV host. */
class SriovCommandTest {
    private static final PciAddress IGB = PciAddress.parse("0000:01:00.0");
    private static final Duration T = Duration.ofSeconds(5);
    @TempDir
    Path tmp;
    FakeHost host;
    FakeProc proc;
    Path leases;
    SriovManager m;
    VfPool pool;

    @BeforeEach
    void fakeHost() throws Exception {
        host = new FakeHost(tmp.resolve("sys"));
        proc = new FakeProc(tmp.resolve("proc"));
        leases = tmp.resolve("run/jvmm/leases");
        m = host.manager();
        pool = new VfPool(m, leases, proc.root, T);
        SriovCommand.manager = host::manager;
        SriovCommand.pools = mgr -> new VfPool(mgr, leases, proc.root, T);
        SriovCommand.appliers = (mgr, dir, t) -> new SriovApply(mgr, tmp.resolve("state"), tmp.resolve("run/jvmm/sriov-apply"),
                proc.root, T);
        SriovCommand.staleMacvtaps = () -> macvtapsGone;
    }

    List<String> macvtapsGone = List.of();

    @AfterEach
    void realHost() {
        SriovCommand.manager = SriovManager::system;
        SriovCommand.pools = mgr -> new VfPool(mgr, VfPool.DEFAULT_LEASE_DIR);
        SriovCommand.appliers = SriovApply::system;
        SriovCommand.staleMacvtaps = dev.jvmm.vmm.devices.NetBackends::sweepStaleMacvtaps;
    }

    /** VF 0 leased by this process ('vm-a'), VF 1 by a process that is gone ('vm-b', pid 77777), VF 2 free. */
    private void threeVfsOneLiveOneStale() throws Exception {
        m.setNumVfs(IGB, 3, false, T);
        pool.acquire("enp1s0", null, new VfNetConfig("52:54:00:00:aa:01", 100, null, null, null, null, null, null, null), "vm-a");
        VfPool.Lease b = pool.acquire("enp1s0", null, new VfNetConfig("52:54:00:00:aa:02", 200, null, null, null, null, null,
                null, null), "vm-b");
        LeaseRecord r = b.record();
        LeaseRecord dead = new LeaseRecord(r.pf(), r.pfNetdev(), r.vf(), r.index(), 77777, 4242, r.holder(), r.acquiredAt(),
                r.before(), r.beforeNet(), r.config());
        Files.writeString(b.file(), Json.write(dead.toJson()));
    }

    private static String untimed(String s) {
        return s.replaceAll("since \\S+", "since T");
    }

    @Test
    void parsesLeasesAndReconcile() {
        CommandLine.ParseResult pr = Jvmm.commandLine().parseArgs("sriov", "leases", "enp1s0", "--json");
        SriovCommand.Leases l = (SriovCommand.Leases) pr.subcommand().subcommand().commandSpec().userObject();
        assertEquals("enp1s0", l.pf);
        assertTrue(l.json);
        pr = Jvmm.commandLine().parseArgs("sriov", "reconcile");
        assertNull(((SriovCommand.Reconcile) pr.subcommand().subcommand().commandSpec().userObject()).pf);
        CliRun help = CliRun.of("sriov", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("leases") && help.out().contains("reconcile"), help.out());
        assertEquals(2, CliRun.of("sriov", "leases", "a", "b").code(), "one PF at most");
    }

    @Test
    void leasesListsFreeLeasedAndStaleVfs() throws Exception {
        threeVfsOneLiveOneStale();
        long me = FakeProc.self();
        CliRun t = CliRun.of("sriov", "leases", "enp1s0");
        assertEquals(0, t.code(), t.err());
        assertEquals("PF 0000:01:00.0 enp1s0 (igb): 3 VFs, 1 free, 1 leased, 1 stale\n"
                + "  VF 0  0000:01:10.0  vfio-pci  leased  'vm-a' pid " + me + " since T mac=52:54:00:00:aa:01 vlan=100\n"
                + "  VF 1  0000:01:10.2  vfio-pci  stale   'vm-b' pid 77777 since T mac=52:54:00:00:aa:02 vlan=200: process"
                + " 77777 is gone ('jvmm sriov reconcile' releases it)\n"
                + "  VF 2  0000:01:10.4  none      free\n", untimed(t.out()));
        assertEquals(t.out(), CliRun.of("sriov", "leases").out(), "every pool: here the one PF with VFs");

        CliRun j = CliRun.of("sriov", "leases", "0000:01:00.0", "--json");
        assertEquals(0, j.code(), j.err());
        @SuppressWarnings("unchecked")
        Map<String, Object> p = ((List<Map<String, Object>>) ((Map<String, Object>) Json.parse(j.out())).get("pools")).get(0);
        assertEquals("enp1s0", p.get("netdev"));
        assertEquals(1L, p.get("free"));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> vfs = (List<Map<String, Object>>) p.get("vfs");
        assertEquals(List.of("leased", "stale", "free"), vfs.stream().map(v -> v.get("status")).toList());
        assertEquals("process 77777 is gone", vfs.get(1).get("stale"));
        assertEquals("vm-b", ((Map<?, ?>) vfs.get(1).get("lease")).get("holder"));
        assertNull(vfs.get(2).get("lease"));
    }

    @Test
    void reconcileReleasesTheStaleLeaseAndSaysWhatItDid() throws Exception {
        threeVfsOneLiveOneStale();
        CliRun r = CliRun.of("sriov", "reconcile");
        assertEquals(0, r.code(), r.err());
        assertEquals("0000:01:00.0 VF 1 0000:01:10.2: released the stale lease of 'vm-b' (pid 77777: process 77777 is gone):"
                + " IFLA_VF_MAC mac=00:00:00:00:00:00, IFLA_VF_VLAN vlan=0 qos=0 proto=802.1Q, driver vfio-pci -> none\n", r.out());
        assertEquals("00:00:00:00:00:00", m.readVf(IGB, 1).mac());
        assertEquals("52:54:00:00:aa:01", m.readVf(IGB, 0).mac(), "the live lease is not touched");
        assertEquals("no stale leases\n", CliRun.of("sriov", "reconcile", "enp1s0").out());
        CliRun j = CliRun.of("sriov", "reconcile", "--json");
        assertEquals(Map.of("applies", List.of(), "reclaimed", List.of(), "macvtapsDeleted", List.of()), Json.parse(j.out()));
    }

    /**
     * An apply killed half-way (the fake kernel "kills" it at its 4th change) and a macvtap of a jvmm that is gone:
     * reconcile rolls the apply back, releases the stale lease and deletes the macvtap, and says so.
     */
    @Test
    void reconcileRollsBackAnInterruptedApplyAndDeletesStaleMacvtaps() throws Exception {
        threeVfsOneLiveOneStale();
        pool.states(); // the live lease stays as it is
        Path spec = tmp.resolve("spec.json");
        Files.writeString(spec, "{\"pfs\":[{\"pf\":\"enp1s0\",\"numVfs\":3,\"vfs\":[{\"index\":2,\"mac\":\"52:54:00:00:cc:02\","
                + "\"vlan\":9,\"driver\":\"vfio-pci\"}]}]}");
        var before = SriovCommand.appliers.of(m, null, T).snapshot(IGB);
        host.changes = 0;
        host.dieAtChange = 2; // the VLAN of VF 2, after its MAC
        assertThrows(dev.jvmm.sys.pci.FakePciHost.Died.class, () -> CliRun.of("sriov", "apply", spec.toString()));
        host.dieAtChange = 0;
        assertEquals("52:54:00:00:cc:02", m.readVf(IGB, 2).mac(), "half applied");
        // this JVM stands for the killed jvmm: make the journal another, dead process's
        Path journal = tmp.resolve("run/jvmm/sriov-apply/apply.json");
        Files.writeString(journal, Files.readString(journal).replaceFirst("\"pid\": \\d+", "\"pid\": 66666"));
        macvtapsGone = List.of("mvt66666n0");
        CliRun r = CliRun.of("sriov", "reconcile");
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.get(0).matches("rolled back the apply of pid 66666 begun \\S+ \\(process 66666 is gone\\) on 0000:01:00.0"),
                r.out());
        assertTrue(lines.get(1).startsWith("0000:01:00.0 VF 1 0000:01:10.2: released the stale lease of 'vm-b'"), r.out());
        assertEquals("deleted macvtap mvt66666n0: the jvmm that made it is gone", lines.get(2), r.out());
        assertEquals(3, lines.size(), r.out());
        assertEquals(before.vfs().get(2), SriovCommand.appliers.of(m, null, T).snapshot(IGB).vfs().get(2));
        assertFalse(Files.exists(journal));
    }

    @Test
    void aLeaseThatCannotBeReleasedFailsTheCommand() throws Exception {
        threeVfsOneLiveOneStale();
        proc.process(4321, "qemu-system-x86", 9).holds(4321, "/dev/vfio/21"); // VF 1's group, opened by someone else
        CliRun r = CliRun.of("sriov", "reconcile");
        assertEquals(1, r.code());
        assertTrue(r.out().startsWith("0000:01:00.0 VF 1 0000:01:10.2: NOT released the stale lease of 'vm-b' (pid 77777:"
                + " process 77777 is gone): releasing VF 0000:01:10.2 (lease of 'vm-b') failed: VF 0000:01:10.2 is still held"
                + " open through VFIO by pid 4321 (qemu-system-x86): stop that process first"), r.out());
        assertEquals("Error: 1 of 1 stale leases could not be released (see above); their VFs stay out of the pool\n", r.err());
        assertEquals("vfio-pci", m.binding(PciAddress.parse("0000:01:10.2")).driver());
    }

    @Test
    void errorsAreOneLineWithTheRemedy() {
        CliRun empty = CliRun.of("sriov", "leases", "enp1s0");
        assertEquals(1, empty.code());
        assertEquals("Error: the VF pool of enp1s0 (0000:01:00.0) is empty: it has no VFs yet (sriov_numvfs is 0, at most 7);"
                + " create them with 'jvmm sriov create enp1s0 N --autoprobe off'\n", empty.err());
        CliRun missing = CliRun.of("sriov", "leases", "eth99");
        assertEquals(1, missing.code());
        assertEquals(1, missing.err().lines().count(), missing.err());
        assertTrue(missing.err().startsWith("Error: no network interface 'eth99'")
                && missing.err().endsWith("; 'jvmm sriov list' shows the PFs with SR-IOV\n"), missing.err());
        CliRun none = CliRun.of("sriov", "leases");
        assertEquals(0, none.code(), none.err());
        assertEquals("no VF pools: no SR-IOV PF has VFs ('jvmm sriov create PF N --autoprobe off' makes some)\n", none.out());
    }
}

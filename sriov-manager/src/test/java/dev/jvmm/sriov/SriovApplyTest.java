package dev.jvmm.sriov;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.pci.FakePciHost;
import dev.jvmm.sys.pci.PciAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Declarative apply over the fake host: idempotence, rollback to the exact previous state, reset, NVMe PF. */
class SriovApplyTest {
    private static final PciAddress IGB = PciAddress.parse("0000:01:00.0");
    private static final PciAddress NVME = PciAddress.parse("0000:02:00.0");
    @TempDir
    Path tmp;
    FakeHost host;
    FakeProc proc;
    SriovManager m;
    SriovApply apply;

    @BeforeEach
    void setUp() throws Exception {
        host = new FakeHost(tmp.resolve("sys"));
        proc = new FakeProc(tmp.resolve("proc"));
        m = host.manager();
        apply = new SriovApply(m, tmp.resolve("state"), tmp.resolve("run"), proc.root, Duration.ofSeconds(5));
    }

    static String spec(String vf3) {
        return """
                {"pfs": [{"pf": "enp1s0", "numVfs": 4, "vfs": [
                  {"index": 0, "mac": "52:54:00:00:00:10", "vlan": 10, "qos": 3, "spoofchk": true, "trust": false, "maxTxRate": 100},
                  {"index": 1, "mac": "52:54:00:00:00:11", "spoofchk": false, "trust": true},
                  {"index": 2, "mac": "52:54:00:00:00:12", "driver": "vfio-pci"},
                  {"index": 3, %s}
                ]}]}""".formatted(vf3);
    }

    @Test
    void appliesThenReapplyChangesNothing() throws Exception {
        var r = apply.apply(SriovSpec.parse(spec("\"mac\": \"52:54:00:00:00:13\", \"driver\": \"vfio-pci\"")));
        assertTrue(r.get(0).changed());
        assertTrue(r.get(0).actions().contains("sriov_numvfs 0 -> 4"), r.toString());
        PfInfo p = m.pf(IGB);
        assertEquals("52:54:00:00:00:10", p.vf(0).net().mac());
        assertEquals(10, p.vf(0).net().vlan());
        assertEquals(3, p.vf(0).net().qos());
        assertEquals(100, p.vf(0).net().maxTxRate());
        assertEquals(true, p.vf(1).net().trust());
        assertEquals("vfio-pci", p.vf(2).driver());
        assertEquals("vfio-pci", p.vf(3).driver());
        assertEquals("igbvf", p.vf(0).driver());
        Path state = tmp.resolve("state/0000:01:00.0.json");
        assertTrue(Files.exists(state));
        String recorded = Files.readString(state);
        assertTrue(recorded.contains("\"numVfs\": 0"), "records the state before: " + recorded);

        host.writes.clear();
        host.netlinkSets.clear();
        var again = apply.apply(SriovSpec.parse(spec("\"mac\": \"52:54:00:00:00:13\", \"driver\": \"vfio-pci\"")));
        assertFalse(again.get(0).changed(), again.toString());
        assertEquals(List.of(), host.writes, "re-apply writes nothing to sysfs");
        assertEquals(List.of(), host.netlinkSets, "re-apply sends no RTM_SETLINK");
        assertEquals(recorded, Files.readString(state), "state file untouched");
    }

    @Test
    void failureOnVf3RollsBackToExactlyThePreviousState() {
        // previous state: 2 VFs, VF 0 with a MAC and VLAN, VF 1 on vfio-pci, autoprobe on
        m.setNumVfs(IGB, 2, null, Duration.ofSeconds(5));
        m.configureVf(IGB, 0, new VfNetConfig("52:54:00:aa:00:00", 7, 1, null, false, null, null, null, null));
        m.bind(m.pf(IGB).vf(1).bdf(), "vfio-pci");
        PfSnapshot before = apply.snapshot(IGB);

        var e = assertThrows(SriovException.class,
                () -> apply.apply(SriovSpec.parse(spec("\"vlan\": 100, \"proto\": \"802.1ad\""))));
        assertEquals(SriovException.Reason.NETLINK, e.reason());
        assertTrue(e.getMessage().contains("VF 3: the kernel rejected IFLA_VF_VLAN_LIST"), e.getMessage());
        assertEquals(before, apply.snapshot(IGB), "PF back to exactly its previous state");
        assertTrue(host.writes.contains("bus/pci/devices/0000:01:00.0/sriov_numvfs <- 0"));
        assertFalse(Files.exists(tmp.resolve("state/0000:01:00.0.json")), "no record of a failed apply");
    }

    @Test
    void failureWithoutCountChangeRestoresSettingsAndDrivers() {
        m.setNumVfs(IGB, 4, null, Duration.ofSeconds(5));
        PfSnapshot before = apply.snapshot(IGB);
        host.failOnce.put("drivers_probe <- 0000:01:10.6", dev.jvmm.sys.Errno.EINVAL);
        var e = assertThrows(SriovException.class,
                () -> apply.apply(SriovSpec.parse(spec("\"mac\": \"52:54:00:00:00:13\", \"driver\": \"vfio-pci\""))));
        assertEquals(SriovException.Reason.DRIVER, e.reason());
        assertEquals(before, apply.snapshot(IGB));
        // a fault that persists also breaks the rollback's own re-probe: reported as ROLLBACK_FAILED, not hidden
        host.failWrite.put("drivers_probe <- 0000:01:10.6", dev.jvmm.sys.Errno.EINVAL);
        var rb = assertThrows(SriovException.class,
                () -> apply.apply(SriovSpec.parse(spec("\"mac\": \"52:54:00:00:00:13\", \"driver\": \"vfio-pci\""))));
        assertEquals(SriovException.Reason.ROLLBACK_FAILED, rb.reason());
        assertTrue(rb.getSuppressed().length > 0);
    }

    @Test
    void resetUndoesTheApplyAndNeedsARecord() {
        var none = assertThrows(SriovException.class, () -> apply.reset(IGB));
        assertEquals(SriovException.Reason.STATE, none.reason());
        PfSnapshot before = apply.snapshot(IGB);
        apply.apply(SriovSpec.parse(spec("\"mac\": \"52:54:00:00:00:13\"")));
        // a second apply with another count keeps the original "before" for reset
        apply.apply(SriovSpec.parse("{\"pfs\":[{\"pf\":\"0000:01:00.0\",\"numVfs\":2}]}"));
        assertEquals(2, m.pf(IGB).numVfs());
        apply.reset(IGB);
        assertEquals(before, apply.snapshot(IGB));
        assertFalse(Files.exists(apply.stateFile(IGB)));
    }

    /**
     * An apply "killed" (the fake kernel throws an Error, so no rollback runs, as after SIGKILL) before each of its
     * sysfs writes and RTM_SETLINKs in turn: its journal stays, and {@link SriovApply#recover}, once the process is
     * gone, puts the PF back to exactly its state before, with the apply record from before that apply (here: the one
     * of an earlier apply, which must not be lost) and no journal or temporary file left.
     */
    @Test
    void anApplyKilledAtAnyStepIsRolledBackByRecover() throws Exception {
        // the state before: an earlier apply left 2 VFs, VF 0 with a MAC, VF 1 on vfio-pci
        apply.apply(SriovSpec.parse("""
                {"pfs":[{"pf":"enp1s0","numVfs":2,"vfs":[{"index":0,"mac":"52:54:00:aa:00:00","vlan":7},
                  {"index":1,"driver":"vfio-pci"}]}]}"""));
        PfSnapshot before = apply.snapshot(IGB);
        String record = Files.readString(apply.stateFile(IGB));
        String next = spec("\"mac\": \"52:54:00:00:00:13\", \"driver\": \"vfio-pci\"");
        int points = 0;
        for (int n = 1; ; n++) {
            host.changes = 0;
            host.dieAtChange = n;
            try {
                apply.apply(SriovSpec.parse(next));
                break; // no change left to die at: the apply completed
            } catch (FakePciHost.Died d) {
                points++;
            } finally {
                host.dieAtChange = 0;
            }
            assertTrue(Files.exists(apply.journalFile()), "killed at change " + n + ": the journal stays");
            // while the process lives, recover leaves its journal alone
            var live = apply.recover();
            assertEquals(1, live.size());
            assertFalse(live.get(0).ok());
            assertTrue(live.get(0).failure().getMessage().contains("still runs"), live.get(0).toString());
            proc.exit(FakeProc.self());
            var r = apply.recover();
            proc.process(FakeProc.self(), "java", FakeProc.SELF_START);
            assertEquals(1, r.size(), "change " + n);
            assertTrue(r.get(0).ok(), r.get(0).toString());
            assertEquals(List.of(IGB), r.get(0).pfs());
            assertEquals("process " + FakeProc.self() + " is gone", r.get(0).stale());
            assertEquals(before, apply.snapshot(IGB), "killed at change " + n + ", rolled back");
            assertEquals(record, Files.readString(apply.stateFile(IGB)), "the earlier apply's record, change " + n);
            try (var files = Files.list(tmp.resolve("run"))) {
                assertEquals(List.of(".lock"), files.map(f -> f.getFileName().toString()).toList(), "change " + n);
            }
            assertEquals(List.of(), apply.recover(), "nothing left to roll back");
        }
        assertTrue(points >= 10, "the apply makes many changes: " + points);
        assertEquals("vfio-pci", m.pf(IGB).vf(3).driver(), "after the kills, the apply completes");
        assertFalse(Files.exists(apply.journalFile()));
    }

    @Test
    void theNextApplyRollsBackAnInterruptedOneFirstAndABadJournalStopsIt() throws Exception {
        PfSnapshot before = apply.snapshot(IGB);
        host.dieAtChange = 3;
        assertThrows(FakePciHost.Died.class, () -> apply.apply(SriovSpec.parse(spec("\"mac\": \"52:54:00:00:00:13\""))));
        host.dieAtChange = 0;
        // a process that no longer exists wrote the journal: another jvmm's apply rolls it back, then applies
        String j = Files.readString(apply.journalFile());
        Files.writeString(apply.journalFile(), j.replaceFirst("\"pid\": \\d+", "\"pid\": 77777"));
        apply.apply(SriovSpec.parse("{\"pfs\":[{\"pf\":\"enp1s0\",\"numVfs\":1}]}"));
        assertEquals(1, m.pf(IGB).numVfs());
        assertTrue(host.writes.contains("bus/pci/devices/0000:01:00.0/sriov_numvfs <- 0"), host.writes.toString());
        assertFalse(Files.exists(apply.journalFile()));
        // its record says the state before jvmm's first apply: the one the interrupted apply saw
        apply.reset(IGB);
        assertEquals(before, apply.snapshot(IGB));
        // a journal jvmm did not write: nothing is changed, the error names the file
        Files.writeString(apply.journalFile(), "{\"pid\": \"x\"}");
        host.writes.clear();
        var e = assertThrows(SriovException.class, () -> apply.apply(SriovSpec.parse(spec("\"mac\": \"52:54:00:00:00:13\""))));
        assertEquals(SriovException.Reason.STATE, e.reason());
        assertTrue(e.getMessage().startsWith("an earlier apply was interrupted and could not roll back the apply of pid -1")
                && e.getMessage().contains("the apply journal " + apply.journalFile() + " is not one jvmm wrote")
                && e.getMessage().endsWith("; nothing was changed now"), e.getMessage());
        assertEquals(List.of(), host.writes);
    }

    @Test
    void nvmePfGetsVfsAndVfioButNetworkSettingsAreSkippedWithANote() {
        var r = apply.apply(SriovSpec.parse("""
                {"pfs":[{"pf":"0000:02:00.0","numVfs":2,"autoprobe":false,
                  "vfs":[{"index":0,"driver":"vfio-pci","mac":"52:54:00:00:00:20"},{"index":1,"driver":"vfio-pci"}]}]}"""));
        PfInfo p = m.pf(NVME);
        assertEquals(2, p.numVfs());
        assertEquals("vfio-pci", p.vf(0).driver());
        assertEquals("vfio-pci", p.vf(1).driver());
        assertEquals(1, r.get(0).notes().size());
        assertTrue(r.get(0).notes().get(0).contains("is not a network device: network settings of VF [0] skipped"),
                r.get(0).notes().toString());
    }

    @Test
    void specErrorsNameTheirJsonPath() {
        record Bad(String json, String expect) {
        }
        for (Bad b : List.of(
                new Bad("{\"pfs\":[{\"pf\":\"x\",\"numVfs\":2,\"vfs\":[{\"index\":0,\"vlna\":3}]}]}", "$.pfs[0].vfs[0].vlna: unknown key"),
                new Bad("{\"pfs\":[{\"pf\":\"x\",\"numVfs\":2,\"vfs\":[{\"index\":1,\"vlan\":4096}]}]}", "$.pfs[0].vfs[0]: VLAN id 4096 is out of range"),
                new Bad("{\"pfs\":[{\"pf\":\"x\",\"numVfs\":2,\"vfs\":[{\"index\":2}]}]}", "VF 2 does not exist with numVfs 2"),
                new Bad("{\"pfs\":[{\"pf\":\"x\",\"numVfs\":\"2\"}]}", "$.pfs[0].numVfs: expected an integer"),
                new Bad("{\"pfs\":[{\"pf\":\"x\",\"numVfs\":1,\"vfs\":[{\"index\":0,\"mac\":\"01:00:5e:00:00:01\"}]}]}", "multicast"),
                new Bad("{\"pfs\":[{\"pf\":\"x\",\"numVfs\":1,\"vfs\":[{\"index\":0,\"minTxRate\":50,\"maxTxRate\":10}]}]}", "below min TX rate"),
                new Bad("{\"pfs\":[{\"pf\":\"x\",\n \"numVfs\":1,,}]}", "line 2, column 13"),
                new Bad("{\"pfs\":[{\"pf\":\"x\",\"numVfs\":1},{\"pf\":\"x\",\"numVfs\":1}]}", "appears twice"))) {
            var e = assertThrows(SriovException.class, () -> SriovSpec.parse(b.json()), b.json());
            assertEquals(SriovException.Reason.INVALID_ARGUMENT, e.reason());
            assertTrue(e.getMessage().contains(b.expect()), e.getMessage() + " <- " + b.json());
        }
        var tooMany = assertThrows(SriovException.class,
                () -> apply.apply(SriovSpec.parse("{\"pfs\":[{\"pf\":\"enp1s0\",\"numVfs\":8}]}")));
        assertTrue(tooMany.getMessage().contains("supports 7"), tooMany.getMessage());
        assertEquals(List.of(), host.writes, "validation happens before any write");
    }
}

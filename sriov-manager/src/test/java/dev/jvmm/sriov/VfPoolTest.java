package dev.jvmm.sriov;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.json.Json;
import dev.jvmm.sys.netlink.VfInfo;
import dev.jvmm.sys.pci.DriverBinder;
import dev.jvmm.sys.pci.PciAddress;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** VF pools and leases over the fake host (sysfs + igb-like rtnetlink), a fake /proc and a temporary lease directory. */
class VfPoolTest {
    private static final PciAddress IGB = PciAddress.parse("0000:01:00.0");
    private static final PciAddress NVME = PciAddress.parse("0000:02:00.0");
    private static final PciAddress VF0 = PciAddress.parse("0000:01:10.0");
    private static final PciAddress VF1 = PciAddress.parse("0000:01:10.2");
    private static final PciAddress VF2 = PciAddress.parse("0000:01:10.4");
    private static final Duration T = Duration.ofSeconds(5);
    private static final long ME = FakeProc.self();
    @TempDir
    Path tmp;
    FakeHost host;
    FakeProc proc;
    SriovManager m;
    Path leases;
    VfPool pool;
    final List<VfPool.Lease> open = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        host = new FakeHost(tmp.resolve("sys"));
        proc = new FakeProc(tmp.resolve("proc"));
        m = host.manager();
        leases = tmp.resolve("run/jvmm/leases");
        pool = new VfPool(m, leases, proc.root, T);
    }

    @AfterEach
    void tearDown() {
        host.failWrite.clear();
        host.failNetlink.clear();
        proc.process(ME, "java", FakeProc.SELF_START);
        open.forEach(VfPool.Lease::close);
    }

    private static VfNetConfig mac(String mac, Integer vlan) {
        return new VfNetConfig(mac, vlan, null, null, null, null, null, null, null);
    }

    private VfPool.Lease take(String pf, PciAddress wanted, VfNetConfig cfg, String holder) {
        VfPool.Lease l = pool.acquire(pf, wanted, cfg, holder);
        open.add(l);
        return l;
    }

    private List<Path> leaseFiles() throws Exception {
        if (!Files.isDirectory(leases)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(leases)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
        }
    }

    private void assertFreeVf(PciAddress vf, int index, String driver) {
        VfInfo v = m.readVf(IGB, index);
        assertEquals("00:00:00:00:00:00", v.mac());
        assertEquals(0, v.vlan());
        assertEquals(0, v.qos());
        assertEquals(0, v.maxTxRate());
        assertEquals(true, v.spoofchk());
        assertEquals(false, v.trust());
        assertEquals(new DriverBinder.Binding(driver, null), m.binding(vf));
    }

    @Test
    void acquireTakesTheFirstFreeVfAppliesMacAndVlanAndBindsVfio() throws Exception {
        m.setNumVfs(IGB, 4, false, T);
        VfPool.Lease l = take("enp1s0", null, mac("52:54:00:00:aa:01", 100), "vm-a");
        assertEquals(VF0, l.vf());
        assertEquals(0, l.index());
        assertEquals(IGB, l.pf());
        assertEquals("enp1s0", l.pfNetdev());
        assertEquals(List.of(), l.reclaimed());
        VfInfo v = m.readVf(IGB, 0);
        assertEquals("52:54:00:00:aa:01", v.mac());
        assertEquals(100, v.vlan());
        assertEquals(new DriverBinder.Binding("vfio-pci", "vfio-pci"), m.binding(VF0));
        assertEquals(List.of("enp1s0 IFLA_VF_MAC vf 0 mac=52:54:00:00:aa:01", "enp1s0 IFLA_VF_VLAN vf 0 vlan=100 qos=0 proto=802.1Q"),
                host.netlinkSets, "the settings go before the binding, one attribute per request");

        assertEquals(leases.resolve("0000:01:00.0/0000:01:10.0.json"), l.file());
        @SuppressWarnings("unchecked")
        Map<String, Object> j = (Map<String, Object>) Json.parse(Files.readString(l.file()));
        assertEquals("0000:01:10.0", j.get("vf"));
        assertEquals("enp1s0", j.get("pfNetdev"));
        assertEquals(ME, j.get("pid"));
        assertEquals(FakeProc.SELF_START, j.get("starttime"));
        assertEquals("vm-a", j.get("holder"));
        assertEquals(Map.of("mac", "52:54:00:00:aa:01", "vlan", 100L), j.get("config"));
        @SuppressWarnings("unchecked")
        Map<String, Object> before = (Map<String, Object>) j.get("before");
        assertNull(before.get("driver"), "autoprobe off: the VF had no driver");
        assertEquals("00:00:00:00:00:00", ((Map<?, ?>) before.get("net")).get("mac"));

        PoolState st = pool.state("enp1s0");
        assertEquals(List.of(PoolState.Status.LEASED, PoolState.Status.FREE, PoolState.Status.FREE, PoolState.Status.FREE),
                st.vfs().stream().map(PoolState.Slot::status).toList());
        assertEquals("vm-a", st.vfs().get(0).lease().holder());
        assertEquals(3, st.available().size());
        assertEquals(st, pool.state("0000:01:00.0"), "a PF by address or by netdev");
    }

    @Test
    void twoLeasesGetDifferentVfsAndALeasedVfIsRefusedByName() {
        m.setNumVfs(IGB, 3, false, T);
        VfPool.Lease a = take("enp1s0", null, mac("52:54:00:00:aa:01", 100), "vm-a");
        VfPool.Lease b = take("enp1s0", null, mac("52:54:00:00:aa:02", 200), "vm-b");
        assertNotEquals(a.vf(), b.vf());
        assertEquals(VF1, b.vf());
        assertEquals("52:54:00:00:aa:02", m.readVf(IGB, 1).mac());

        var leased = assertThrows(SriovException.class, () -> pool.acquire("enp1s0", VF0, VfNetConfig.NONE, "vm-c"));
        assertEquals(SriovException.Reason.IN_USE, leased.reason());
        assertTrue(leased.getMessage().startsWith("VF 0000:01:10.0 (VF 0 of enp1s0 (0000:01:00.0)) is leased by 'vm-a' (pid "
                + ME + ", since "), leased.getMessage());
        assertEquals("52:54:00:00:aa:01", m.readVf(IGB, 0).mac(), "the refused acquire changed nothing");

        var notVf = assertThrows(SriovException.class, () -> pool.acquire("enp1s0", PciAddress.parse("0000:02:00.1"), null, "vm-c"));
        assertEquals(SriovException.Reason.INVALID_ARGUMENT, notVf.reason());
        assertTrue(notVf.getMessage().contains("0000:02:00.1 is not a VF of enp1s0 (0000:01:00.0), whose VFs are 0000:01:10.0,"
                + " 0000:01:10.2, 0000:01:10.4"), notVf.getMessage());

        VfPool.Lease c = take("enp1s0", VF2, null, "vm-c");
        assertEquals(VF2, c.vf());
        var none = assertThrows(SriovException.class, () -> pool.acquire("enp1s0", null, null, "vm-d"));
        assertEquals(SriovException.Reason.NO_FREE_VF, none.reason());
        assertTrue(none.getMessage().startsWith("no free VF in the pool of enp1s0 (0000:01:00.0): VF 0 leased by 'vm-a'"),
                none.getMessage());
        assertTrue(none.getMessage().contains("at most 7"), none.getMessage());
    }

    @Test
    void closeResetsTheVfAndGivesItBackToItsDriverOnce() throws Exception {
        m.setNumVfs(IGB, 2, true, T); // autoprobe on: the VFs have igbvf
        VfNetConfig cfg = new VfNetConfig("52:54:00:00:aa:01", 100, 2, null, false, true, null, null, 50);
        VfPool.Lease l = take("enp1s0", null, cfg, "vm-a");
        assertEquals(new DriverBinder.Binding("vfio-pci", "vfio-pci"), m.binding(VF0));
        assertEquals(true, m.readVf(IGB, 0).trust());
        host.netlinkSets.clear();
        l.close();
        assertFreeVf(VF0, 0, "igbvf");
        assertEquals(List.of("enp1s0 IFLA_VF_MAC vf 0 mac=00:00:00:00:00:00", "enp1s0 IFLA_VF_VLAN vf 0 vlan=0 qos=0 proto=802.1Q",
                "enp1s0 IFLA_VF_RATE vf 0 min_tx_rate=0 max_tx_rate=0", "enp1s0 IFLA_VF_SPOOFCHK vf 0 spoofchk=on",
                "enp1s0 IFLA_VF_TRUST vf 0 trust=off"), host.netlinkSets);
        assertEquals(List.of(), leaseFiles());
        assertEquals(PoolState.Status.FREE, pool.state("enp1s0").vfs().get(0).status());
        host.netlinkSets.clear();
        host.writes.clear();
        l.close();
        assertEquals(List.of(), host.netlinkSets, "closed once: a second close does nothing");
        assertEquals(List.of(), host.writes);
    }

    @Test
    void staleLeaseIsReclaimedByTheNextAcquireWithTheVfReset() throws Exception {
        m.setNumVfs(IGB, 2, false, T);
        VfPool.Lease a = pool.acquire("enp1s0", null, mac("52:54:00:00:aa:01", 100), "vm-a");
        // this JVM's pid now belongs to another process (another start time): the lease is stale
        proc.process(ME, "bash", FakeProc.SELF_START + 500);
        PoolState.Slot s = pool.state("enp1s0").vfs().get(0);
        assertEquals(PoolState.Status.STALE, s.status());
        assertEquals("pid " + ME + " now belongs to another process (bash)", s.stale());
        assertTrue(s.available());

        VfPool.Lease b = take("enp1s0", null, mac("52:54:00:00:bb:01", 300), "vm-b");
        assertEquals(1, b.reclaimed().size());
        VfPool.Released r = b.reclaimed().get(0);
        assertTrue(r.ok(), String.valueOf(r.failure()));
        assertEquals("vm-a", r.lease().holder());
        assertEquals(s.stale(), r.stale());
        assertEquals(List.of("IFLA_VF_MAC mac=00:00:00:00:00:00", "IFLA_VF_VLAN vlan=0 qos=0 proto=802.1Q", "driver vfio-pci -> none"),
                r.actions());
        assertEquals(VF0, b.vf(), "the reclaimed VF is free again and the lowest");
        assertEquals("52:54:00:00:bb:01", m.readVf(IGB, 0).mac());
        assertEquals(300, m.readVf(IGB, 0).vlan());
        assertEquals(FakeProc.SELF_START + 500, b.record().starttime());
        a.close(); // the old lease object finds its file taken over by the new lease: nothing happens
        assertEquals("52:54:00:00:bb:01", m.readVf(IGB, 0).mac());
        assertTrue(Files.exists(b.file()));
    }

    @Test
    void deadAndZombieHoldersAreStaleAndReclaimStaleReleasesThem() throws Exception {
        m.setNumVfs(IGB, 3, false, T);
        m.setNumVfs(NVME, 2, false, T);
        VfPool.Lease live = take("enp1s0", VF2, mac("52:54:00:00:aa:03", null), "vm-live");
        // leases written by processes that are gone: pid 77777 (no such process) and 77778 (a zombie)
        writeForeignLease(IGB, 1, VF1, 77777, "vm-dead");
        proc.zombie(77778, "java", 4242);
        writeForeignLease(NVME, 0, PciAddress.parse("0000:02:00.1"), 77778, "vm-zombie");
        // a lease file whose writer was killed between writing it and renaming it into place
        Path unfinished = Files.writeString(pool.poolDir(IGB).resolve("0000:01:10.4.json.123456.tmp"), "{\"pf\":");

        PoolState st = pool.state("enp1s0");
        assertEquals("process 77777 is gone", st.vfs().get(1).stale());
        assertEquals(PoolState.Status.LEASED, st.vfs().get(2).status());
        assertEquals("process 77778 has exited (a zombie its parent has not reaped)",
                pool.state("0000:02:00.0").vfs().get(0).stale());

        List<VfPool.Released> rs = pool.reclaimStale();
        assertEquals(List.of("vm-dead", "vm-zombie"), rs.stream().map(r -> r.lease().holder()).toList());
        assertTrue(rs.stream().allMatch(VfPool.Released::ok), rs.toString());
        assertEquals(List.of("IFLA_VF_MAC mac=00:00:00:00:00:00", "IFLA_VF_VLAN vlan=0 qos=0 proto=802.1Q",
                "driver vfio-pci -> none"), rs.get(0).actions());
        assertEquals(List.of("driver vfio-pci -> none"), rs.get(1).actions(), "an NVMe PF: no network settings");
        assertFreeVf(VF1, 1, null);
        assertEquals(List.of(live.file()), leaseFiles(), "the live lease stays");
        assertFalse(Files.exists(unfinished), "the unfinished lease file is gone");
        assertEquals(List.of(), pool.reclaimStale("enp1s0"), "nothing stale any more");
        assertEquals(List.of(), pool.reclaimStale("0000:00:03.0"), "a device without a pool directory has no leases");
    }

    /** A lease as another process would have left it: the VF on vfio-pci with a MAC and VLAN. */
    private void writeForeignLease(PciAddress pf, int index, PciAddress vf, long pid, String holder) throws Exception {
        VfInfo before = m.readVf(pf, index);
        VfNetConfig cfg = pf.equals(IGB) ? mac("52:54:00:00:dd:0" + index, 42) : VfNetConfig.NONE;
        LeaseRecord r = new LeaseRecord(pf, pf.equals(IGB) ? "enp1s0" : null, vf, index, pid, 4242, holder, Instant.now(),
                m.binding(vf), before == null ? null : VfNetConfig.of(before), cfg);
        JsonFiles.write(pool.leaseFile(pf, vf), r.toJson());
        if (!cfg.isEmpty()) {
            m.configureVf(pf, index, cfg);
        }
        m.bind(vf, "vfio-pci");
    }

    @Test
    void aRefusedSettingLeavesNothingBehind() throws Exception {
        m.setNumVfs(IGB, 2, false, T);
        // igb refuses an 802.1ad tag after it took the MAC: the MAC is put back, no binding, no lease
        var e = assertThrows(SriovException.class, () -> pool.acquire("enp1s0", null,
                new VfNetConfig("52:54:00:00:aa:01", 100, 0, "802.1ad", null, null, null, null, null), "vm-a"));
        assertEquals(SriovException.Reason.NETLINK, e.reason());
        assertTrue(e.getMessage().contains("IFLA_VF_VLAN_LIST"), e.getMessage());
        assertFreeVf(VF0, 0, null);
        assertEquals(List.of(), leaseFiles());
    }

    @Test
    void aFailedBindLeavesNothingBehind() throws Exception {
        m.setNumVfs(IGB, 2, false, T);
        host.failWrite.put("drivers_probe <- 0000:01:10.0", Errno.ENODEV);
        var e = assertThrows(SriovException.class, () -> pool.acquire("enp1s0", null, mac("52:54:00:00:aa:01", 100), "vm-a"));
        assertEquals(SriovException.Reason.DRIVER, e.reason());
        assertTrue(e.getMessage().contains("binding 0000:01:10.0 to vfio-pci failed"), e.getMessage());
        assertFreeVf(VF0, 0, null);
        assertEquals(List.of(), leaseFiles());
        host.failWrite.clear();
        assertEquals(VF0, take("enp1s0", null, null, "vm-a").vf(), "and the VF can be taken afterwards");
    }

    @Test
    void whenUndoingFailsTooTheLeaseStaysForReconcile() throws Exception {
        m.setNumVfs(IGB, 1, true, T); // igbvf bound: giving it back needs drivers_probe, which keeps failing
        host.failWrite.put("drivers_probe <- 0000:01:10.0", Errno.ENODEV);
        var e = assertThrows(SriovException.class, () -> pool.acquire("enp1s0", null, mac("52:54:00:00:aa:01", 100), "vm-a"));
        assertEquals(SriovException.Reason.ROLLBACK_FAILED, e.reason());
        assertTrue(e.getMessage().contains("stays, so that 'jvmm sriov reconcile' gives the VF back once this process has exited"),
                e.getMessage());
        assertEquals(1, e.getSuppressed().length);
        assertEquals(1, leaseFiles().size());
        assertEquals("00:00:00:00:00:00", m.readVf(IGB, 0).mac(), "the settings were restored");
        // the process exits; the host driver can be probed again: reconcile finishes the job
        host.failWrite.clear();
        proc.exit(ME);
        List<VfPool.Released> rs = pool.reclaimStale("enp1s0");
        assertEquals(1, rs.size());
        assertTrue(rs.get(0).ok(), String.valueOf(rs.get(0).failure()));
        assertFreeVf(VF0, 0, "igbvf");
        assertEquals(List.of(), leaseFiles());
    }

    @Test
    void anUnwritableLeaseDirectoryChangesNothing() throws Exception {
        m.setNumVfs(IGB, 1, false, T);
        Files.createDirectories(leases.getParent());
        Files.writeString(leases, "not a directory");
        host.writes.clear();
        var e = assertThrows(SriovException.class, () -> pool.acquire("enp1s0", null, mac("52:54:00:00:aa:01", null), "vm-a"));
        assertEquals(SriovException.Reason.LEASE, e.reason());
        assertTrue(e.getMessage().startsWith("cannot create the directory " + leases.resolve("0000:01:00.0") + " of the VF pool lock"), e.getMessage());
        assertEquals(List.of(), host.writes);
        assertEquals(List.of(), host.netlinkSets);
    }

    @Test
    void resetSkipsWhatTheDriverDoesNotSupportAndARefusalKeepsTheLease() throws Exception {
        m.setNumVfs(IGB, 1, false, T);
        VfPool.Lease l = pool.acquire("enp1s0", null, new VfNetConfig("52:54:00:00:aa:01", 7, null, null, null, true, null, null, null), "vm-a");
        host.failNetlink.put("IFLA_VF_VLAN vf 0 vlan=0", Errno.EINVAL);
        var e = assertThrows(SriovException.class, l::close);
        assertEquals(SriovException.Reason.NETLINK, e.reason());
        assertTrue(e.getMessage().startsWith("releasing VF 0000:01:10.0 (lease of 'vm-a') failed: enp1s0 VF 0: the kernel"
                + " rejected IFLA_VF_VLAN (vlan=0 qos=0 proto=802.1Q) with EINVAL"), e.getMessage());
        assertTrue(Files.exists(l.file()), "the VF is not handed out with its VLAN");
        assertEquals(PoolState.Status.LEASED, pool.state("enp1s0").vfs().get(0).status());

        host.failNetlink.clear();
        host.failNetlink.put("IFLA_VF_TRUST", Errno.EOPNOTSUPP);
        host.netlinkSets.clear();
        l.close(); // tried again: now the VLAN goes, and trust is skipped as unsupported
        assertEquals(0, m.readVf(IGB, 0).vlan());
        assertEquals(true, m.readVf(IGB, 0).trust(), "skipped: the driver does not support it");
        assertFalse(Files.exists(l.file()));
    }

    @Test
    void aVfHeldThroughVfioIsInUseAndNotReleasedUnderItsHolder() throws Exception {
        m.setNumVfs(IGB, 3, false, T);
        // VF 1 (IOMMU group 21) is held open by a process that has no lease
        proc.process(4321, "qemu-system-x86", 777).holds(4321, "/dev/vfio/21");
        PoolState.Slot s = pool.state("enp1s0").vfs().get(1);
        assertEquals(PoolState.Status.IN_USE, s.status());
        assertEquals(4321, s.users().get(0).pid());
        var e = assertThrows(SriovException.class, () -> pool.acquire("enp1s0", VF1, null, "vm-a"));
        assertEquals(SriovException.Reason.IN_USE, e.reason());
        assertTrue(e.getMessage().contains("is held open through VFIO by pid 4321 (qemu-system-x86) without a lease"), e.getMessage());
        assertEquals(VF0, take("enp1s0", null, null, "vm-a").vf());
        VfPool.Lease c = pool.acquire("enp1s0", null, null, "vm-c");
        assertEquals(VF2, c.vf(), "VF 1 is skipped");

        // the lease's own VM still has the group open: close refuses rather than hang in the kernel's unbind
        proc.holds(ME, "/dev/vfio/22");
        var busy = assertThrows(SriovException.class, c::close);
        assertEquals(SriovException.Reason.IN_USE, busy.reason());
        assertTrue(busy.getMessage().contains("close the VM's VFIO device before its lease"), busy.getMessage());
        assertEquals("vfio-pci", m.binding(VF2).driver());
        try (Stream<Path> fds = Files.list(proc.root.resolve(Long.toString(ME)).resolve("fd"))) {
            Files.delete(fds.findFirst().orElseThrow()); // the VM closed its group
        }
        c.close();
        assertFreeVf(VF2, 2, null);
    }

    @Test
    void errorsNameThePfAndTheRemedy() throws Exception {
        var missing = assertThrows(SriovException.class, () -> pool.state("eth99"));
        assertEquals(SriovException.Reason.NOT_FOUND, missing.reason());
        assertTrue(missing.getMessage().startsWith("no network interface 'eth99'"), missing.getMessage());
        assertTrue(missing.getMessage().endsWith("; 'jvmm sriov list' shows the PFs with SR-IOV"), missing.getMessage());

        var plain = assertThrows(SriovException.class, () -> pool.state("0000:00:03.0"));
        assertEquals(SriovException.Reason.NOT_SRIOV, plain.reason());
        assertTrue(plain.getMessage().startsWith("no VF pool on 0000:00:03.0: 0000:00:03.0 has no SR-IOV capability"), plain.getMessage());

        var empty = assertThrows(SriovException.class, () -> pool.acquire("enp1s0", null, null, "vm-a"));
        assertEquals(SriovException.Reason.NO_VFS, empty.reason());
        assertEquals("the VF pool of enp1s0 (0000:01:00.0) is empty: it has no VFs yet (sriov_numvfs is 0, at most 7);"
                + " create them with 'jvmm sriov create enp1s0 N --autoprobe off'", empty.getMessage());

        m.setNumVfs(NVME, 1, false, T);
        var nic = assertThrows(SriovException.class, () -> pool.acquire("0000:02:00.0", null, mac("52:54:00:00:aa:01", null), "vm"));
        assertEquals(SriovException.Reason.NOT_A_NIC, nic.reason());
        assertTrue(nic.getMessage().startsWith("0000:02:00.0 (1b36:0010, driver nvme) is not a network device"), nic.getMessage());
        m.setNumVfs(NVME, 0, null, T);
        host.attr("0000:02:00.0", "sriov_totalvfs", "0");
        var zero = assertThrows(SriovException.class, () -> pool.state("0000:02:00.0"));
        assertEquals(SriovException.Reason.NOT_SRIOV, zero.reason());
        assertTrue(zero.getMessage().contains("it reports sriov_totalvfs 0"), zero.getMessage());

        m.setNumVfs(IGB, 1, true, T);
        String vfNetdev = m.pf(IGB).vf(0).netdev();
        var vf = assertThrows(SriovException.class, () -> pool.state(vfNetdev));
        assertEquals(SriovException.Reason.NOT_SRIOV, vf.reason());
        assertTrue(vf.getMessage().contains("0000:01:10.0 is a VF of 0000:01:00.0, not a PF"), vf.getMessage());

        var holder = assertThrows(SriovException.class, () -> pool.acquire("enp1s0", null, null, " "));
        assertEquals(SriovException.Reason.INVALID_ARGUMENT, holder.reason());
        assertFalse(Files.exists(leases), "errors before the lock create nothing");
    }

    @Test
    void threadsNeverTakeTheSameVf() throws Exception {
        m.setNumVfs(IGB, 4, false, T);
        ExecutorService ex = Executors.newFixedThreadPool(4);
        try {
            for (int round = 0; round < 3; round++) {
                CyclicBarrier go = new CyclicBarrier(4);
                List<Future<VfPool.Lease>> fs = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    String holder = "vm-" + round + "-" + t;
                    VfPool own = new VfPool(m, leases, proc.root, T); // one pool object each, as separate launches have
                    fs.add(ex.submit(() -> {
                        go.await();
                        return own.acquire("enp1s0", null, null, holder);
                    }));
                }
                Set<PciAddress> got = new HashSet<>();
                List<VfPool.Lease> ls = new ArrayList<>();
                for (Future<VfPool.Lease> f : fs) {
                    VfPool.Lease l = f.get(30, TimeUnit.SECONDS);
                    ls.add(l);
                    got.add(l.vf());
                }
                assertEquals(4, got.size(), "four leases, four different VFs");
                assertEquals(4, leaseFiles().size());
                ls.forEach(VfPool.Lease::close);
            }
        } finally {
            ex.shutdownNow();
        }
    }

    @Test
    void anotherProcessHoldingThePoolLockMakesAcquireWait() throws Exception {
        m.setNumVfs(IGB, 1, false, T);
        Path lock = pool.poolDir(IGB).resolve(".lock");
        Files.createDirectories(lock.getParent());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), LockHolder.class.getName(),
                lock.toString()).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("LOCKED", out.readLine());
            VfPool impatient = new VfPool(m, leases, proc.root, Duration.ofMillis(300));
            var e = assertThrows(SriovException.class, () -> impatient.acquire("enp1s0", null, null, "vm-a"));
            assertEquals(SriovException.Reason.TIMEOUT, e.reason());
            assertTrue(e.getMessage().startsWith("the VF pool lock " + lock.toRealPath() + " is still held by another process"),
                    e.getMessage());
            assertEquals(List.of(), leaseFiles());
            child.getOutputStream().close(); // the holder lets go
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            assertEquals(VF0, take("enp1s0", null, null, "vm-a").vf());
        } finally {
            child.destroyForcibly();
        }
    }

    /** A second process for {@link #anotherProcessHoldingThePoolLockMakesAcquireWait}: locks the file until stdin closes. */
    public static final class LockHolder {
        public static void main(String[] a) throws Exception {
            try (var ch = java.nio.channels.FileChannel.open(Path.of(a[0]), java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.WRITE); var l = ch.lock()) {
                System.out.println("LOCKED");
                System.out.flush();
                while (System.in.read() >= 0) {
                    // hold until the test closes our stdin
                }
            }
        }
    }

    @Test
    void processIdentityFromTheRealProc() throws Exception {
        Path real = Path.of("/proc");
        ProcessIdentity me = ProcessIdentity.current(real);
        assertEquals(ME, me.pid());
        assertTrue(me.starttime() > 0);
        assertEquals(me, ProcessIdentity.read(real, ME), "stable");
        assertNull(ProcessIdentity.stale(real, ME, me.starttime()), "this process is live");
        assertEquals("pid " + ME + " now belongs to another process (" + me.comm() + ")",
                ProcessIdentity.stale(real, ME, me.starttime() - 1));
        Process p = new ProcessBuilder("true").start();
        long pid = p.pid();
        p.waitFor();
        assertEquals("process " + pid + " is gone", ProcessIdentity.stale(real, pid, 1), "reaped by waitFor");
        // comm may hold blanks and parentheses
        proc.process(5, "a) (b c", 77);
        assertEquals(new ProcessIdentity(5, 'S', 77, "a) (b c"), ProcessIdentity.read(proc.root, 5));
    }
}

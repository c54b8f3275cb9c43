package dev.jvmm.vmm.nic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sriov.FakeHost;
import dev.jvmm.sriov.FakeProc;
import dev.jvmm.sriov.SriovManager;
import dev.jvmm.sriov.VfPool;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.ConsoleSpec;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.VfioConfig;
import dev.jvmm.vmm.config.VmConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Plans becoming devices: virtio plans become {@code --net} NICs on a TAP, a bridge or a macvtap after the VM's own;
 * a passthrough plan takes a lease from the VF pool (sriov-manager's, over its fake host: sysfs and igb-like
 * rtnetlink) and becomes a {@code --device vfio=}; closing gives the VF back; a failure gives back what was taken.
 */
class NicWiringTest {
    private static final VmConfig VM = new VmConfig(Path.of("/k"), null, "", 64L << 20, 1, ConsoleSpec.STDIO,
            VmConfig.OnReboot.EXIT, List.of(), List.of(new NetConfig("jt9", null, 1)));
    private static final PciAddress IGB = PciAddress.parse("0000:01:00.0");
    @TempDir
    Path tmp;
    SriovManager m;
    VfPool pool;
    final List<String> said = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        FakeHost host = new FakeHost(tmp.resolve("sys"));
        FakeProc proc = new FakeProc(tmp.resolve("proc"));
        m = host.manager();
        m.setNumVfs(IGB, 2, false, Duration.ofSeconds(5));
        pool = new VfPool(m, tmp.resolve("leases"), proc.root, Duration.ofSeconds(5));
    }

    private static List<NicPlan> plan(int free, String... specs) {
        return NicPlanner.plan(NicPlannerTest.nics(false, specs), false, () -> NicPlannerTest.READY,
                NicPlannerTest.pool(free));
    }

    @Test
    void virtioPlansAreNetsAfterTheNets() {
        List<NicPlan> p = plan(6, "mode=virtio,tap=jt0,queues=2,mac=52:54:00:00:00:07", "mode=virtio",
                "mode=virtio,bridge=br0", "mode=virtio,pf=enp1s0");
        try (NicWiring.Wired w = NicWiring.wire(VM, p, null, "vm", said::add)) {
            VmConfig c = w.config();
            assertEquals(5, c.nets().size());
            assertEquals("jt9", c.nets().get(0).tap());
            assertEquals("jt0", c.nets().get(1).tap());
            assertEquals("52:54:00:00:00:07", NetConfig.format(c.nets().get(1).mac()));
            assertEquals(2, c.nets().get(1).queues());
            assertEquals(null, c.nets().get(2).tap(), "jvmm creates it, as --net does");
            assertEquals(p.get(1).mac(), NetConfig.format(c.nets().get(2).mac()), "the generated MAC");
            assertEquals("br0", c.nets().get(3).bridge());
            assertEquals("enp1s0", c.nets().get(4).macvtapOver());
            assertEquals(List.of(), w.leases());
        }
    }

    @Test
    void aPassthroughPlanTakesALeaseAndClosingGivesTheVfBack() throws Exception {
        List<NicPlan> p = plan(2, "id=eth0,pf=enp1s0,mac=52:54:00:00:13:01,vlan=100", "id=eth1,mode=virtio,pf=enp1s0");
        NicWiring.Wired w = NicWiring.wire(VM, p, pool, "jvmm pid 1", said::add);
        assertEquals(List.of(new VfioConfig("0000:01:10.0", VfioConfig.Iommu.AUTO, true, "eth0")), w.config().vfio());
        assertEquals(2, w.config().nets().size());
        assertEquals("52:54:00:00:13:01", m.readVf(IGB, 0).mac());
        assertEquals(100, m.readVf(IGB, 0).vlan());
        assertEquals("vfio-pci", m.binding(PciAddress.parse("0000:01:10.0")).driver());
        assertTrue(said.get(0).startsWith("eth0: took VF 0000:01:10.0 (VF 0 of enp1s0), mac 52:54:00:00:13:01; lease "), said.toString());
        assertEquals("jvmm pid 1 nic eth0", w.leases().get(0).holder());
        w.close();
        assertEquals("00:00:00:00:00:00", m.readVf(IGB, 0).mac());
        assertEquals(0, m.readVf(IGB, 0).vlan());
        assertEquals(null, m.binding(PciAddress.parse("0000:01:10.0")).driver(), "back on no driver, as before");
        assertEquals(2, pool.state("enp1s0").available().size());
    }

    @Test
    void aFailedLeaseGivesBackWhatWasTakenAndNamesTheNic() {
        // two NICs want the PF's two VFs, but the second is told to take VF 0 again
        List<NicPlan> p = plan(2, "id=eth0,pf=enp1s0", "id=eth1,vf=0000:01:10.0");
        VmmException e = assertThrows(VmmException.class, () -> NicWiring.wire(VM, p, pool, "jvmm pid 1", said::add));
        assertTrue(e.getMessage().startsWith("NIC eth"), e.getMessage());
        assertTrue(e.getMessage().contains("cannot take a VF of"), e.getMessage());
        assertEquals(2, pool.state("enp1s0").available().size(), "no lease left: " + e.getMessage());
        assertTrue(!Files.exists(tmp.resolve("leases")) || pool.state("enp1s0").vfs().stream()
                .allMatch(s -> s.lease() == null));
    }

    @Test
    void aFailoverPairIsAStandbyNetHoldingItsLeasedPrimaryAndNoColdVf() throws Exception {
        List<NicPlan> p = plan(2, "id=eth0,pf=enp1s0,failover=on,mac=52:54:00:00:15:01");
        NicWiring.Wired w = NicWiring.wire(VM, p, pool, "jvmm pid 1", said::add);
        assertEquals(List.of(), w.config().vfio(), "the primary is hot-plugged once STANDBY is negotiated, not at boot");
        NetConfig standby = w.config().nets().get(1);
        assertEquals("enp1s0", standby.macvtapOver());
        assertEquals("eth0", standby.standby().nic());
        assertEquals(new VfioConfig("0000:01:10.0", VfioConfig.Iommu.AUTO, true, "eth0"), standby.standby().primary());
        assertEquals("52:54:00:00:15:01", m.readVf(IGB, 0).mac(), "the VF has the pair's MAC");
        assertEquals(1, w.leases().size());
        assertEquals(w.leases().get(0), w.lease("eth0"));
        w.close();
        assertEquals("00:00:00:00:00:00", m.readVf(IGB, 0).mac(), "closing gives the VF back");
        NicWiring.Wired alone = NicWiring.wire(VM, plan(0, "id=eth0,pf=enp1s0,failover=on"), null, "jvmm pid 1", said::add);
        assertEquals(null, alone.config().nets().get(1).standby().primary(), "no free VF: the standby alone");
        assertEquals(List.of(), alone.leases());
        alone.close();
    }
}

package dev.jvmm.vmm.nic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.ConsoleSpec;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.VmConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The seam: a virtio TAP plan becomes a --net NIC; anything else is refused, naming the NIC, before the VM is built. */
class NicWiringTest {
    private static final VmConfig VM = new VmConfig(Path.of("/k"), null, "", 64L << 20, 1, ConsoleSpec.STDIO,
            VmConfig.OnReboot.EXIT, List.of(), List.of(new NetConfig("jt9", null, 1)));

    private static List<NicPlan> plan(String... specs) {
        return NicPlanner.plan(NicPlannerTest.nics(false, specs), false, () -> NicPlannerTest.READY,
                NicPlannerTest.pool(6));
    }

    @Test
    void aTapPlanIsANetAfterTheNets() {
        List<NicPlan> p = plan("mode=virtio,tap=jt0,queues=2,mac=52:54:00:00:00:07", "mode=virtio");
        VmConfig c = NicWiring.apply(VM, p);
        assertEquals(3, c.nets().size());
        assertEquals("jt9", c.nets().get(0).tap());
        assertEquals("jt0", c.nets().get(1).tap());
        assertEquals("52:54:00:00:00:07", NetConfig.format(c.nets().get(1).mac()));
        assertEquals(2, c.nets().get(1).queues());
        assertEquals(null, c.nets().get(2).tap(), "jvmm creates it, as --net does");
        assertEquals(p.get(1).mac(), NetConfig.format(c.nets().get(2).mac()), "the generated MAC");
        assertSame(VM, NicWiring.apply(VM, List.of()));
    }

    @Test
    void whatIsNotWiredYetIsRefusedNamingTheNic() {
        assertEquals("NIC eth1: VF of enp1s0 is planned, but passing a VF through is not wired into launch yet (--dry-run "
                + "shows the plan; mode=virtio,tap=NAME works)",
                assertThrows(VmmException.class, () -> NicWiring.apply(VM, plan("mode=virtio", "pf=enp1s0"))).getMessage());
        assertEquals("NIC eth0: virtio-net on macvtap over enp1s0 is planned, but a macvtap backend is not wired into "
                + "launch yet (--dry-run shows the plan; mode=virtio,tap=NAME works)",
                assertThrows(VmmException.class, () -> NicWiring.apply(VM, plan("mode=virtio,pf=enp1s0"))).getMessage());
        assertEquals("NIC eth0: virtio-net on a tap in bridge br0 is planned, but a bridge backend is not wired into "
                + "launch yet (--dry-run shows the plan; mode=virtio,tap=NAME works)",
                assertThrows(VmmException.class, () -> NicWiring.apply(VM, plan("bridge=br0"))).getMessage());
    }
}

package dev.jvmm.vmm.nic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.probe.UseCase;
import dev.jvmm.probe.Verdict;
import dev.jvmm.sriov.VfNetConfig;
import dev.jvmm.sys.json.Json;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.DeviceSpecs;
import dev.jvmm.vmm.config.NicConfig;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Every rule of the NIC planner and the reason it gives, with a fake pool and readiness. */
class NicPlannerTest {
    static final PassthroughReadiness READY = PassthroughReadiness.ready("IOMMU ready");

    /** A pool of PFs by name and by address, and VFs by address. */
    static final class FakePool implements PoolView {
        final Map<String, Pf> pfs = new HashMap<>();
        final Map<String, Vf> vfs = new HashMap<>();

        FakePool pf(Pf pf) {
            pfs.put(pf.netdev(), pf);
            if (pf.bdf() != null) {
                pfs.put(pf.bdf(), pf);
            }
            return this;
        }

        FakePool vf(String bdf, String pf, boolean free) {
            vfs.put(bdf, new Vf(free ? VfStatus.FREE : VfStatus.LEASED, bdf, pfs.get(pf), free ? null : bdf
                    + " is leased by pid 4242"));
            return this;
        }

        @Override
        public Pf pf(String pf) {
            return pfs.getOrDefault(pf, Pf.notFound("no network interface " + pf));
        }

        @Override
        public Vf vf(String bdf) {
            return vfs.getOrDefault(bdf, new Vf(VfStatus.NOT_FOUND, bdf, null, "no SR-IOV VF at " + bdf));
        }
    }

    /** enp1s0 with 7 VFs of which {@code free} are free; eth9, a NIC without SR-IOV. */
    static FakePool pool(int free) {
        return new FakePool().pf(PoolView.Pf.sriov("enp1s0", "0000:01:00.0", 7, free))
                .pf(PoolView.Pf.notSriov("eth9", "0000:00:03.0", "eth9 has no SR-IOV capability"))
                .vf("0000:01:10.0", "enp1s0", true).vf("0000:01:10.2", "enp1s0", false);
    }

    static List<NicConfig> nics(boolean migratable, String... specs) {
        return DeviceSpecs.nics(DeviceSpecs.nicsCli(List.of(specs)), migratable, "test-vm");
    }

    static List<String> lines(boolean migratable, PassthroughReadiness r, PoolView pool, String... specs) {
        return NicPlanner.plan(nics(migratable, specs), migratable, () -> r, pool).stream().map(NicPlan::line).toList();
    }

    static String line(PassthroughReadiness r, PoolView pool, String spec) {
        return lines(false, r, pool, spec).get(0);
    }

    static String error(PassthroughReadiness r, PoolView pool, String... specs) {
        VmmException e = assertThrows(VmmException.class, () -> NicPlanner.plan(nics(false, specs), false, () -> r, pool));
        assertEquals(VmmException.Reason.HOST, e.reason());
        return e.getMessage();
    }

    @Test
    void autoTakesAVfWhenReadyFreeAndNotMigratable() {
        assertEquals("eth0: VF of enp1s0 (passthrough: IOMMU ready, 6 free VFs)", line(READY, pool(6), "pf=enp1s0"));
        assertEquals("eth0: VF of enp1s0 (passthrough: IOMMU ready, 1 free VF)", line(READY, pool(1), "pf=0000:01:00.0"));
        assertEquals("eth0: VF 0000:01:10.0 of enp1s0 (passthrough: IOMMU ready, VF free)",
                line(READY, pool(6), "vf=0000:01:10.0"));
    }

    @Test
    void autoFallsBackToVirtioOnTheSameNetworkAndSaysWhy() {
        assertEquals(List.of("eth0: virtio-net on macvtap over enp1s0 (fallback: the VM is migratable)"),
                lines(true, READY, pool(6), "pf=enp1s0"));
        assertEquals("eth0: virtio-net on macvtap over enp1s0 (fallback: no free VF on enp1s0: all 7 are leased)",
                line(READY, pool(0), "pf=enp1s0"));
        assertEquals("eth0: virtio-net on macvtap over enp1s0 (fallback: passthrough not ready: no IOMMU (simulated))",
                line(PassthroughReadiness.override("passthrough=not-ready:no IOMMU (simulated)"), pool(6), "pf=enp1s0"));
        assertEquals("eth0: virtio-net on macvtap over eth9 (fallback: eth9 has no SR-IOV capability)",
                line(READY, pool(6), "pf=eth9"));
        assertEquals("eth0: virtio-net on macvtap over enp1s0 (fallback: no free VF on enp1s0: its one VF is leased)",
                line(READY, new FakePool().pf(PoolView.Pf.sriov("enp1s0", "0000:01:00.0", 1, 0)), "pf=enp1s0"));
        assertEquals("eth0: virtio-net on macvtap over enp1s0 (fallback: 0000:01:10.2 is leased by pid 4242)",
                line(READY, pool(6), "vf=0000:01:10.2"));
        assertEquals("eth0: virtio-net on macvtap over enp1s0 (fallback: enp1s0 has no VFs (sriov_numvfs is 0; create "
                + "some with jvmm sriov create enp1s0 N))", line(READY, new FakePool().pf(PoolView.Pf.sriov("enp1s0",
                        "0000:01:00.0", 0, 0)), "pf=enp1s0"));
    }

    @Test
    void theFallbackGoesToTapOrBridgeWhenGivenAndANewTapWithoutAPf() {
        assertEquals("eth0: virtio-net on tap jt0 (fallback: the VM is migratable)",
                lines(true, READY, pool(6), "pf=enp1s0,tap=jt0").get(0));
        assertEquals("eth0: virtio-net on a tap in bridge br0 (fallback: no free VF on enp1s0: all 7 are leased)",
                line(READY, pool(0), "pf=enp1s0,bridge=br0"));
        assertEquals("eth0: virtio-net on a new tap (fallback: no pf= or vf= to take a VF from)", line(READY, pool(6), "mode=auto"));
        assertEquals("eth0: virtio-net on a tap in bridge br0 (fallback: no network interface enp9s0)",
                line(READY, pool(6), "pf=enp9s0,bridge=br0"));
        assertEquals("eth0: virtio-net on tap jt0 (fallback: no SR-IOV VF at 0000:02:00.1)",
                line(READY, pool(6), "vf=02:00.1,tap=jt0"));
    }

    @Test
    void aFallbackMacvtapNeedsAnInterfaceToSitOn() {
        assertEquals("NIC eth0: pf: no network interface enp9s0, so a macvtap has nothing to sit on (fallback: passthrough"
                + " not ready: off; tap= or bridge= would give it somewhere else)",
                error(PassthroughReadiness.notReady("off"), pool(6), "pf=enp9s0"));
        assertEquals("NIC eth0: vf: no SR-IOV VF at 0000:02:00.1, so there is no PF for the fallback macvtap to sit on "
                + "(fallback: no SR-IOV VF at 0000:02:00.1)", error(READY, pool(6), "vf=02:00.1"));
        FakePool noNetdev = new FakePool().pf(new PoolView.Pf(PoolView.PfStatus.SRIOV, null, "0000:01:00.0", 7, 0, null));
        assertEquals("NIC eth0: pf: 0000:01:00.0 has no network interface (no network driver bound), so a macvtap has "
                + "nothing to sit on (fallback: no free VF on 0000:01:00.0: all 7 are leased; tap= or bridge= would give "
                + "it somewhere else)", error(READY, noNetdev, "pf=0000:01:00.0"));
    }

    @Test
    void passthroughIsAVfOrAnErrorNeverAFallback() {
        assertEquals("eth0: VF of enp1s0 (mode=passthrough: IOMMU ready, 6 free VFs)",
                line(READY, pool(6), "mode=passthrough,pf=enp1s0"));
        assertEquals("NIC eth0: mode=passthrough: no free VF on enp1s0: all 7 are leased (mode=auto would fall back to "
                + "virtio-net)", error(READY, pool(0), "mode=passthrough,pf=enp1s0"));
        assertEquals("NIC eth0: mode=passthrough: passthrough not ready: no IOMMU (mode=auto would fall back to "
                + "virtio-net)", error(PassthroughReadiness.notReady("no IOMMU"), pool(6), "mode=passthrough,pf=enp1s0"));
        assertEquals("NIC eth0: mode=passthrough: eth9 has no SR-IOV capability (mode=auto would fall back to "
                + "virtio-net)", error(READY, pool(6), "mode=passthrough,pf=eth9"));
        assertEquals("NIC eth0: mode=passthrough: no network interface enp9s0 (mode=auto would fall back to virtio-net)",
                error(READY, pool(6), "mode=passthrough,pf=enp9s0"));
        assertEquals("NIC wan: mode=passthrough: 0000:01:10.2 is leased by pid 4242 (mode=auto would fall back to "
                + "virtio-net)", error(READY, pool(6), "id=wan,mode=passthrough,vf=01:10.2"));
    }

    @Test
    void virtioIsVirtioOnWhatItNames() {
        assertEquals("eth0: virtio-net on tap jt0 (mode=virtio)", line(READY, pool(6), "mode=virtio,tap=jt0"));
        assertEquals("eth0: virtio-net on a tap in bridge br0 (mode=virtio)", line(READY, pool(6), "mode=virtio,bridge=br0"));
        assertEquals("eth0: virtio-net on macvtap over enp1s0 (mode=virtio)",
                line(READY, pool(6), "mode=virtio,pf=enp1s0,macvtap=on"));
        assertEquals("eth0: virtio-net on macvtap over enp1s0 (mode=virtio)", line(READY, pool(6), "mode=virtio,pf=enp1s0"));
        assertEquals("eth0: virtio-net on a new tap (mode=virtio)", line(READY, pool(6), "mode=virtio"));
    }

    @Test
    void nicsOnOnePfConsumeItsFreeVfs() {
        assertEquals(List.of("eth0: VF of enp1s0 (passthrough: IOMMU ready, 2 free VFs)",
                "eth1: VF of enp1s0 (passthrough: IOMMU ready, 1 free VF)",
                "eth2: virtio-net on macvtap over enp1s0 (fallback: no free VF on enp1s0: of its 7, 5 are leased and 2 "
                        + "go to eth0, eth1)"),
                lines(false, READY, pool(2), "pf=enp1s0", "pf=0000:01:00.0", "pf=enp1s0"));
        // a NIC that names its VF is planned first: the VF is not also counted for the NIC before it
        assertEquals(List.of("eth0: virtio-net on macvtap over enp1s0 (fallback: no free VF on enp1s0: of its 7, 6 are "
                + "leased and 1 goes to eth1)", "eth1: VF 0000:01:10.0 of enp1s0 (passthrough: IOMMU ready, VF free)"),
                lines(false, READY, pool(1), "pf=enp1s0", "vf=0000:01:10.0"));
        FakePool all = new FakePool().pf(PoolView.Pf.sriov("enp1s0", "0000:01:00.0", 1, 1));
        assertEquals("NIC eth1: mode=passthrough: no free VF on enp1s0: of its 1, 1 goes to eth0 (mode=auto would fall "
                + "back to virtio-net)", error(READY, all, "pf=enp1s0", "mode=passthrough,pf=enp1s0"));
    }

    @Test
    void readinessIsAskedOnceAndOnlyWhenANicCouldBeAVf() {
        AtomicInteger asked = new AtomicInteger();
        Supplier<PassthroughReadiness> r = () -> {
            asked.incrementAndGet();
            return READY;
        };
        NicPlanner.plan(nics(false, "mode=virtio,pf=enp1s0", "tap=t0", "mode=virtio"), false, r, pool(6));
        NicPlanner.plan(nics(true, "pf=enp1s0", "vf=01:10.0"), true, r, pool(6));
        assertEquals(0, asked.get(), "virtio NICs, NICs without a PF, a migratable VM: no probe");
        NicPlanner.plan(nics(false, "pf=enp1s0", "pf=enp1s0", "vf=01:10.0"), false, r, pool(6));
        assertEquals(1, asked.get());
    }

    @Test
    void thePoolIsAskedOncePerPfAndVf() {
        FakePool real = pool(1);
        List<String> asked = new java.util.ArrayList<>();
        PoolView counting = new PoolView() {
            @Override
            public Pf pf(String pf) {
                asked.add(pf);
                return real.pf(pf);
            }

            @Override
            public Vf vf(String bdf) {
                asked.add(bdf);
                return real.vf(bdf);
            }
        };
        NicPlanner.plan(nics(false, "pf=enp1s0", "pf=enp1s0", "vf=01:10.2", "pf=enp9s0,tap=t0"), false, () -> READY,
                counting);
        assertEquals(List.of("0000:01:10.2", "enp1s0", "enp9s0"), asked, "the fallbacks ask again for nothing");
    }

    @Test
    void aPlanCarriesWhatTheWiringNeeds() {
        List<NicPlan> p = NicPlanner.plan(nics(false, "id=wan,pf=enp1s0,mac=52:54:00:00:00:07,vlan=10,qos=2,spoofchk=off,"
                + "trust=on,rate=500", "mode=virtio,tap=jt0,queues=2"), false, () -> READY, pool(6));
        NicPlan vf = p.get(0);
        assertEquals(NicPlan.Choice.PASSTHROUGH, vf.choice());
        assertEquals("enp1s0", vf.pf());
        assertEquals("0000:01:00.0", vf.pfBdf());
        assertNull(vf.vf(), "any free VF, chosen with the lease");
        assertNull(vf.backend());
        assertEquals(new VfNetConfig("52:54:00:00:00:07", 10, 2, null, false, true, null, null, 500), vf.vfSettings());
        NicPlan tap = p.get(1);
        assertEquals(NicPlan.Choice.VIRTIO, tap.choice());
        assertEquals(NicPlan.Backend.TAP, tap.backend());
        assertEquals("jt0", tap.device());
        assertNull(tap.pf());
        Map<String, Object> j = vf.toJson();
        assertEquals(List.of("id", "mode", "choice", "pf", "pfBdf", "vf", "backend", "device", "mac", "vlan", "qos",
                "spoofchk", "trust", "rate", "queues", "reason"), List.copyOf(j.keySet()));
        assertEquals("auto", j.get("mode"));
        assertEquals("passthrough", j.get("choice"));
        assertEquals("tap", tap.toJson().get("backend"));
        assertEquals(2, tap.toJson().get("queues"));
        assertTrue(NicPlanner.json(p).startsWith("[\n  {\n    \"id\": \"wan\""));
    }

    @Test
    void readinessFromTheProbesVerdictAndTheOverride() {
        assertEquals(READY, PassthroughReadiness.of(new Verdict(UseCase.PASSTHROUGH, true, List.of(), List.of())));
        assertEquals(PassthroughReadiness.notReady("Firmware describes no IOMMU (and 1 more: see jvmm probe)"),
                PassthroughReadiness.of(new Verdict(UseCase.PASSTHROUGH, false, List.of(
                        new Verdict.Reason("iommu.acpi", "Firmware describes no IOMMU"),
                        new Verdict.Reason("iommu.enabled", "No IOMMU groups")), List.of())));
        assertEquals(PassthroughReadiness.notReady("no IOMMU (simulated)"),
                PassthroughReadiness.override("passthrough=not-ready:no IOMMU (simulated)"));
        assertEquals(PassthroughReadiness.ready("IOMMU ready (JVMM_PROBE_OVERRIDE)"),
                PassthroughReadiness.override("passthrough=ready"));
        assertFalse(PassthroughReadiness.override(" passthrough=not-ready ").ready());
        VmmException e = assertThrows(VmmException.class, () -> PassthroughReadiness.override("iommu=off"));
        assertEquals(VmmException.Reason.CONFIG, e.reason());
        assertEquals("JVMM_PROBE_OVERRIDE: \"iommu=off\" is not passthrough=ready[:REASON] or "
                + "passthrough=not-ready[:REASON]", e.getMessage());
    }

    @Test
    void theJsonParsesBack() throws Exception {
        Object o = Json.parse(NicPlanner.json(NicPlanner.plan(nics(true, "pf=enp1s0"), true, () -> READY, pool(6))));
        Map<?, ?> m = (Map<?, ?>) ((List<?>) o).get(0);
        assertEquals("virtio", m.get("choice"));
        assertEquals("macvtap", m.get("backend"));
        assertEquals("enp1s0", m.get("device"));
        assertEquals("fallback: the VM is migratable", m.get("reason"));
        assertTrue(m.containsKey("vf") && m.get("vf") == null);
    }

    @Test
    void aFailoverNicIsAStandbyOnAMacvtapAndAVfPrimaryEvenOnAMigratableVm() {
        List<NicPlan> p = NicPlanner.plan(nics(true, "id=eth0,pf=enp1s0,failover=on,mac=52:54:00:00:15:01"), true,
                () -> READY, pool(2));
        NicPlan f = p.get(0);
        assertEquals(NicPlan.Choice.FAILOVER, f.choice());
        assertTrue(f.primary() && f.takesVf());
        assertEquals(NicPlan.Backend.MACVTAP, f.backend());
        assertEquals("enp1s0", f.device());
        assertEquals("eth0: failover pair: VF of enp1s0, standby virtio-net on macvtap over enp1s0 (failover: IOMMU ready, "
                + "2 free VFs)", f.line());
        Map<String, Object> j = f.toJson();
        assertEquals("failover", j.get("choice"));
        assertEquals(true, j.get("primary"));
        assertEquals(1, j.get("queues"));
    }

    @Test
    void aFailoverNicWithoutAFreeVfStartsWithItsStandbyAlone() {
        NicPlan f = NicPlanner.plan(nics(false, "id=eth0,pf=enp1s0,failover=on"), false, () -> READY, pool(0)).get(0);
        assertEquals(NicPlan.Choice.FAILOVER, f.choice());
        assertFalse(f.primary() || f.takesVf());
        assertTrue(f.line().startsWith("eth0: failover pair: no VF yet, standby virtio-net on macvtap over enp1s0 "
                + "(failover: the standby alone until a VF is added: no free VF on enp1s0"), f.line());
        NicPlan notReady = NicPlanner.plan(nics(false, "id=eth0,pf=enp1s0,failover=on,tap=tap7"), false,
                () -> PassthroughReadiness.notReady("no IOMMU"), pool(2)).get(0);
        assertFalse(notReady.primary());
        assertEquals(NicPlan.Backend.TAP, notReady.backend());
        assertTrue(notReady.line().endsWith("(failover: the standby alone until a VF is added: passthrough not ready: "
                + "no IOMMU)"), notReady.line());
    }

    @Test
    void failoverTakesAVfFromTheSamePoolAsTheOtherNics() {
        List<String> l = lines(false, READY, pool(1), "id=eth0,pf=enp1s0,failover=on", "id=eth1,pf=enp1s0");
        assertTrue(l.get(0).startsWith("eth0: failover pair: VF of enp1s0"), l.toString());
        assertTrue(l.get(1).startsWith("eth1: virtio-net on macvtap over enp1s0 (fallback: no free VF on enp1s0"),
                l.toString());
    }

    @Test
    void failoverNeedsAPfAndTakesNoMode() {
        VmmException noPf = assertThrows(VmmException.class, () -> nics(false, "id=eth0,failover=on"));
        assertEquals("--nic eth0: failover: failover=on pairs virtio-net with a VF: it needs pf= or vf=", noPf.getMessage());
        VmmException mode = assertThrows(VmmException.class, () -> nics(false, "id=eth0,pf=enp1s0,failover=on,mode=virtio"));
        assertEquals("--nic eth0: mode: failover=on gives the guest both a VF and virtio-net; leave mode= out",
                mode.getMessage());
        VmmException bad = assertThrows(VmmException.class, () -> nics(false, "id=eth0,pf=enp1s0,failover=maybe"));
        assertTrue(bad.getMessage().startsWith("--nic eth0: failover: "), bad.getMessage());
    }
}

package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.json.Json;
import dev.jvmm.vmm.nic.PassthroughReadiness;
import dev.jvmm.vmm.nic.PoolView;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code jvmm launch --nic ... --dry-run [--json]} with a fake host: the plan, its reasons, its errors. */
class LaunchNicTest {
    /** enp1s0: an SR-IOV PF with 7 VFs, {@code free} of them free; nothing else exists. */
    private static PoolView pool(int free) {
        return new PoolView() {
            @Override
            public Pf pf(String pf) {
                return pf.equals("enp1s0") || pf.equals("0000:01:00.0") ? Pf.sriov("enp1s0", "0000:01:00.0", 7, free)
                        : Pf.notFound("no network interface " + pf);
            }

            @Override
            public Vf vf(String bdf) {
                return new Vf(VfStatus.NOT_FOUND, bdf, null, "no SR-IOV VF at " + bdf);
            }
        };
    }

    @TempDir
    Path dir;
    Path kernel;

    @BeforeEach
    void kernel() throws Exception {
        kernel = Files.writeString(dir.resolve("vmlinuz"), "not really a kernel");
    }

    private CliRun launch(PassthroughReadiness readiness, PoolView pool, String... args) {
        return launch(readiness, pool, null, args);
    }

    private CliRun launch(PassthroughReadiness readiness, PoolView pool, dev.jvmm.sriov.VfPool vfPool, String... args) {
        LaunchCommand c = new LaunchCommand();
        c.vfPoolFactory = vfPool == null ? null : () -> vfPool;
        List<Long> asked = new ArrayList<>();
        c.readiness = memory -> {
            asked.add(memory);
            return readiness;
        };
        c.pool = pool;
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(c);
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        cl.setExecutionExceptionHandler(new ErrorHandler());
        List<String> all = new ArrayList<>(List.of("--kernel", kernel.toString()));
        all.addAll(List.of(args));
        int code = cl.execute(all.toArray(String[]::new));
        assertTrue(asked.stream().allMatch(m -> m == 512L << 20), "memlock is checked against the VM's RAM: " + asked);
        return new CliRun(code, out.toString(), err.toString());
    }

    @Test
    void dryRunPrintsOneLinePerNicWithItsChoiceAndReason() {
        CliRun r = launch(PassthroughReadiness.ready("IOMMU ready"), pool(6), "--nic", "pf=enp1s0",
                "--nic", "id=lan,pf=enp1s0,bridge=br0", "--nic", "id=mgmt,mode=virtio,tap=jt0", "--dry-run");
        assertEquals(0, r.code(), r.err());
        assertEquals("eth0: VF of enp1s0 (passthrough: IOMMU ready, 6 free VFs)\n"
                + "lan: VF of enp1s0 (passthrough: IOMMU ready, 5 free VFs)\n"
                + "mgmt: virtio-net on tap jt0 (mode=virtio)\n", r.out());
        assertEquals("", r.err());
    }

    /** The example in docs/launch.md, to the letter. */
    @Test
    void theDocumentedExample() {
        CliRun r = launch(PassthroughReadiness.ready("IOMMU ready"), pool(1), "--nic", "pf=enp1s0",
                "--nic", "id=lan,pf=enp1s0,bridge=br0", "--nic", "mode=virtio,tap=jt0", "--dry-run");
        assertEquals("eth0: VF of enp1s0 (passthrough: IOMMU ready, 1 free VF)\n"
                + "lan: virtio-net on a tap in bridge br0 (fallback: no free VF on enp1s0: of its 7, 6 are leased and 1 "
                + "goes to eth0)\n"
                + "eth2: virtio-net on tap jt0 (mode=virtio)\n", r.out());
    }

    @Test
    void dryRunFallsBackAndSaysWhy() {
        assertEquals("eth0: virtio-net on macvtap over enp1s0 (fallback: passthrough not ready: no IOMMU (simulated))\n",
                launch(PassthroughReadiness.override("passthrough=not-ready:no IOMMU (simulated)"), pool(6),
                        "--nic", "pf=enp1s0", "--dry-run").out());
        assertEquals("eth0: virtio-net on macvtap over enp1s0 (fallback: the VM is migratable)\n",
                launch(PassthroughReadiness.ready("IOMMU ready"), pool(6), "--nic", "pf=enp1s0", "--migratable",
                        "--dry-run").out());
        assertEquals("eth0: virtio-net on macvtap over enp1s0 (fallback: no free VF on enp1s0: all 7 are leased)\n",
                launch(PassthroughReadiness.ready("IOMMU ready"), pool(0), "--nic", "pf=enp1s0", "--dry-run").out());
    }

    @Test
    void dryRunJsonIsThePlanAsData() throws Exception {
        CliRun r = launch(PassthroughReadiness.ready("IOMMU ready"), pool(6), "--nic",
                "pf=enp1s0,mac=52:54:00:00:00:07,vlan=10", "--nic", "mode=virtio,tap=jt0,queues=2", "--dry-run", "--json");
        assertEquals(0, r.code(), r.err());
        List<?> plan = (List<?>) Json.parse(r.out());
        assertEquals(2, plan.size());
        Map<?, ?> vf = (Map<?, ?>) plan.get(0);
        assertEquals("eth0", vf.get("id"));
        assertEquals("auto", vf.get("mode"));
        assertEquals("passthrough", vf.get("choice"));
        assertEquals("enp1s0", vf.get("pf"));
        assertEquals("0000:01:00.0", vf.get("pfBdf"));
        assertEquals(null, vf.get("vf"));
        assertEquals(null, vf.get("backend"));
        assertEquals("52:54:00:00:00:07", vf.get("mac"));
        assertEquals(10L, vf.get("vlan"));
        assertEquals("passthrough: IOMMU ready, 6 free VFs", vf.get("reason"));
        Map<?, ?> tap = (Map<?, ?>) plan.get(1);
        assertEquals("virtio", tap.get("choice"));
        assertEquals("tap", tap.get("backend"));
        assertEquals("jt0", tap.get("device"));
        assertEquals(2L, tap.get("queues"));
        assertEquals("mode=virtio", tap.get("reason"));
    }

    @Test
    void theNicsMayComeFromTheConfigFile() throws Exception {
        Path json = Files.writeString(dir.resolve("vm.json"), "{\"kernel\": \"" + kernel + "\", \"migratable\": true, "
                + "\"nics\": [{\"id\": \"wan\", \"pf\": \"enp1s0\", \"tap\": \"jt1\"}]}");
        CliRun r = launch(PassthroughReadiness.ready("IOMMU ready"), pool(6), "--config", json.toString(), "--dry-run");
        assertEquals("wan: virtio-net on tap jt1 (fallback: the VM is migratable)\n", r.out());
    }

    @Test
    void errorsAndTheirExitCodes() {
        PassthroughReadiness ready = PassthroughReadiness.ready("IOMMU ready");
        CliRun bad = launch(ready, pool(6), "--nic", "id=eth1,pf=enp1s0,vlan=5000", "--dry-run");
        assertEquals(LaunchCommand.EXIT_CONFIG, bad.code());
        assertEquals("Error: --nic eth1: vlan: must be between 0 and 4095, got 5000\n", bad.err());
        CliRun none = launch(ready, pool(0), "--nic", "mode=passthrough,pf=enp1s0", "--dry-run");
        assertEquals(ErrorHandler.EXIT_FAILURE, none.code());
        assertEquals("Error: NIC eth0: mode=passthrough: no free VF on enp1s0: all 7 are leased (mode=auto would fall "
                + "back to virtio-net)\n", none.err());
        CliRun json = launch(ready, pool(6), "--nic", "pf=enp1s0", "--json");
        assertEquals(LaunchCommand.EXIT_CONFIG, json.code());
        assertEquals("Error: --json goes with --dry-run (without it, stdout is the guest's console)\n", json.err());
    }

    /**
     * Without --dry-run the plan is printed, the VF is leased (its settings applied, on vfio-pci) before the VM is
     * built, and given back when the launch ends, here because the "kernel" is not one (or this host has no KVM).
     */
    @Test
    void withoutDryRunTheVfIsLeasedForTheVmAndGivenBackAfterIt() throws Exception {
        dev.jvmm.sriov.FakeHost host = new dev.jvmm.sriov.FakeHost(dir.resolve("sys"));
        dev.jvmm.sriov.FakeProc proc = new dev.jvmm.sriov.FakeProc(dir.resolve("proc"));
        dev.jvmm.sriov.SriovManager m = host.manager();
        dev.jvmm.sys.pci.PciAddress igb = dev.jvmm.sys.pci.PciAddress.parse("0000:01:00.0");
        m.setNumVfs(igb, 2, false, java.time.Duration.ofSeconds(5));
        dev.jvmm.sriov.VfPool vfPool = new dev.jvmm.sriov.VfPool(m, dir.resolve("leases"), proc.root,
                java.time.Duration.ofSeconds(5));
        CliRun r = launch(PassthroughReadiness.ready("IOMMU ready"), pool(6), vfPool, "--nic", "pf=enp1s0,mac=52:54:00:00:13:01");
        assertEquals(ErrorHandler.EXIT_FAILURE, r.code(), r.err());
        assertEquals("", r.out());
        List<String> err = r.err().lines().toList();
        assertEquals("jvmm: eth0: VF of enp1s0 (passthrough: IOMMU ready, 6 free VFs)", err.get(0));
        assertTrue(err.get(1).startsWith("jvmm: eth0: took VF 0000:01:10.0 (VF 0 of enp1s0), mac 52:54:00:00:13:01; lease "),
                r.err());
        assertTrue(err.get(2).startsWith("Error: launch failed: "), r.err());
        assertTrue(host.netlinkSets.stream().anyMatch(l -> l.contains("52:54:00:00:13:01")), "the MAC was set: "
                + host.netlinkSets);
        assertEquals("00:00:00:00:00:00", m.readVf(igb, 0).mac(), "reset when the launch ended");
        assertEquals(2, vfPool.state("enp1s0").available().size(), "and released");
    }
}

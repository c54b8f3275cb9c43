package dev.jvmm.vmm.nic;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jvmm.sys.pci.FakePciHost;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sysfs pool view over a fake tree: PFs by interface and address, VFs, and what is not a PF. */
class SysfsPoolTest {
    @TempDir
    Path tmp;

    private SysfsPool pool() {
        FakePciHost h = new FakePciHost(tmp);
        h.device("0000:01:00.0", "8086", "10c9", "020000", "igb").netdev("0000:01:00.0", "enp1s0", "up")
                .attr("0000:01:00.0", "sriov_totalvfs", "7").attr("0000:01:00.0", "sriov_numvfs", "2");
        for (String[] vf : new String[][] {{"0", "0000:01:10.0"}, {"1", "0000:01:10.2"}}) {
            h.device(vf[1], "8086", "10ca", "020000", null);
            FakePciHost.link(h.realDir("0000:01:00.0").resolve("virtfn" + vf[0]), h.realDir(vf[1]));
            FakePciHost.link(h.realDir(vf[1]).resolve("physfn"), h.realDir("0000:01:00.0"));
        }
        h.device("0000:00:03.0", "8086", "100e", "020000", "e1000").netdev("0000:00:03.0", "eth9", "up");
        FakePciHost.put(FakePciHost.mkdirs(tmp.resolve("class/net/br0")).resolve("operstate"), "up");
        return new SysfsPool(h.sysfs);
    }

    @Test
    void pfsByInterfaceOrAddressWithEveryVfFree() {
        SysfsPool p = pool();
        assertEquals(PoolView.Pf.sriov("enp1s0", "0000:01:00.0", 2, 2), p.pf("enp1s0"));
        assertEquals(PoolView.Pf.sriov("enp1s0", "0000:01:00.0", 2, 2), p.pf("01:00.0"));
        assertEquals(PoolView.Pf.notSriov("eth9", "0000:00:03.0", "eth9 has no SR-IOV capability"), p.pf("eth9"));
        assertEquals(PoolView.Pf.notSriov("br0", null, "br0 is not a PCI device, so it has no SR-IOV"), p.pf("br0"));
        assertEquals(PoolView.Pf.notFound("no network interface enp9s0"), p.pf("enp9s0"));
        assertEquals(PoolView.Pf.notFound("no PCI function 0000:09:00.0"), p.pf("0000:09:00.0"));
        assertEquals(PoolView.Pf.notSriov(null, "0000:01:10.2", "0000:01:10.2 is a VF of 0000:01:00.0, not a PF"),
                p.pf("0000:01:10.2"));
    }

    @Test
    void vfsKnowTheirPf() {
        SysfsPool p = pool();
        assertEquals(new PoolView.Vf(PoolView.VfStatus.FREE, "0000:01:10.2", p.pf("enp1s0"), null), p.vf("0000:01:10.2"));
        assertEquals(new PoolView.Vf(PoolView.VfStatus.NOT_FOUND, "0000:00:03.0", null, "no SR-IOV VF at 0000:00:03.0"),
                p.vf("0000:00:03.0"));
        assertEquals(new PoolView.Vf(PoolView.VfStatus.NOT_FOUND, "0000:05:00.0", null, "no PCI function 0000:05:00.0"),
                p.vf("0000:05:00.0"));
    }
}

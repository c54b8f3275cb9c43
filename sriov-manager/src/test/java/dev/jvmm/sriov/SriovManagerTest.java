package dev.jvmm.sriov;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.pci.DriverBinder;
import dev.jvmm.sys.pci.PciAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Discovery, VF lifecycle, VF settings and binding over a fake sysfs tree with a fake kernel behind it. */
class SriovManagerTest {
    private static final PciAddress IGB = PciAddress.parse("0000:01:00.0");
    private static final PciAddress NVME = PciAddress.parse("0000:02:00.0");
    private static final Duration T = Duration.ofSeconds(5);
    @TempDir
    Path tmp;
    FakeHost host;
    SriovManager m;

    @BeforeEach
    void setUp() throws Exception {
        host = new FakeHost(tmp);
        m = host.manager();
    }

    @Test
    void discoversPfsWithCountsDriversAndNetdevs() {
        List<PfInfo> pfs = m.list();
        assertEquals(List.of(IGB, NVME), pfs.stream().map(PfInfo::bdf).toList(), "the non-SR-IOV device is not listed");
        PfInfo igb = pfs.get(0);
        assertEquals("8086:10c9", igb.vendorDevice());
        assertEquals("igb", igb.driver());
        assertEquals(7, igb.totalVfs());
        assertEquals(List.of("enp1s0"), igb.netdevs());
        assertFalse(pfs.get(1).isNic());
        assertEquals(IGB, m.resolve("enp1s0"));
        var e = assertThrows(SriovException.class, () -> m.discovery().pf(PciAddress.parse("0000:00:03.0")));
        assertEquals(SriovException.Reason.NOT_SRIOV, e.reason());
        assertEquals(SriovException.Reason.NOT_FOUND, assertThrows(SriovException.class, () -> m.resolve("eth99")).reason());
        assertEquals(SriovException.Reason.INVALID_ARGUMENT, assertThrows(SriovException.class, () -> m.resolve("1:2:3")).reason());
    }

    @Test
    void createsVfsAndChangesTheCountThroughZero() {
        assertTrue(m.setNumVfs(IGB, 4, null, T));
        PfInfo p = m.pf(IGB);
        assertEquals(4, p.numVfs());
        assertEquals(List.of("0000:01:10.0", "0000:01:10.2", "0000:01:10.4", "0000:01:10.6"),
                p.vfs().stream().map(v -> v.bdf().toString()).toList());
        VfDevice vf0 = p.vf(0);
        assertEquals("igbvf", vf0.driver());
        assertEquals(20, vf0.iommuGroup());
        assertTrue(vf0.netdev().startsWith("eth"));
        assertEquals("00:00:00:00:00:00", vf0.net().mac());
        host.writes.clear();
        assertFalse(m.setNumVfs(IGB, 4, null, T), "same count: no-op");
        assertEquals(List.of(), host.writes);
        assertTrue(m.setNumVfs(IGB, 2, null, T));
        assertEquals(List.of("bus/pci/devices/0000:01:00.0/sriov_numvfs <- 0", "bus/pci/devices/0000:01:00.0/sriov_numvfs <- 2"),
                host.writes);
        assertEquals(2, m.pf(IGB).vfs().size());
        assertTrue(m.destroy(IGB, T));
        assertEquals(0, m.pf(IGB).vfs().size());
    }

    @Test
    void autoprobeOffLeavesNewVfsUnbound() {
        m.setNumVfs(NVME, 2, false, T);
        PfInfo p = m.pf(NVME);
        assertFalse(p.autoprobe());
        assertNull(p.vf(0).driver());
        assertNull(p.vf(1).driver());
    }

    @Test
    void knownErrnosAreExplained() {
        var over = assertThrows(SriovException.class, () -> m.setNumVfs(IGB, 8, null, T));
        assertEquals(SriovException.Reason.INVALID_ARGUMENT, over.reason());
        assertTrue(over.getMessage().contains("at most 7 VFs"), over.getMessage());

        host.failWrite.put("sriov_numvfs <- 4", Errno.ENOMEM);
        var nomem = assertThrows(SriovException.class, () -> m.setNumVfs(IGB, 4, null, T));
        assertEquals(SriovException.Reason.NO_RESOURCES, nomem.reason());
        assertTrue(nomem.getMessage().contains("pci=realloc"), nomem.getMessage());
        assertTrue(nomem.getCause().getMessage().contains("ENOMEM"), nomem.getCause().getMessage());

        host.failWrite.clear();
        host.failWrite.put("sriov_numvfs <- 0", Errno.EBUSY);
        m.setNumVfs(IGB, 2, null, T);
        var busy = assertThrows(SriovException.class, () -> m.setNumVfs(IGB, 3, null, T));
        assertEquals(SriovException.Reason.BUSY, busy.reason());
        assertTrue(busy.getMessage().contains("in use"), busy.getMessage());

        host.failWrite.clear();
        host.failWrite.put("0000:02:00.0/sriov_numvfs <- 1", Errno.EIO);
        var nosriov = assertThrows(SriovException.class, () -> m.setNumVfs(NVME, 1, null, T));
        assertEquals(SriovException.Reason.NOT_SRIOV, nosriov.reason());
        assertTrue(nosriov.getMessage().contains("does not support SR-IOV"), nosriov.getMessage());
    }

    @Test
    void vfSettingsGoOneAttributePerRequestAndAreIdempotent() {
        m.setNumVfs(IGB, 4, null, T);
        VfNetConfig cfg = new VfNetConfig("52:54:00:00:00:13", 100, 3, "802.1Q", false, true, null, null, 50);
        var sent = m.configureVf(IGB, 3, cfg);
        assertEquals(List.of("IFLA_VF_MAC", "IFLA_VF_VLAN", "IFLA_VF_RATE", "IFLA_VF_SPOOFCHK", "IFLA_VF_TRUST"),
                sent.stream().map(a -> a.kernelName()).toList());
        var back = m.readVf(IGB, 3);
        assertEquals("52:54:00:00:00:13", back.mac());
        assertEquals(100, back.vlan());
        assertEquals(3, back.qos());
        assertEquals(50, back.maxTxRate());
        assertEquals(false, back.spoofchk());
        assertEquals(true, back.trust());
        host.netlinkSets.clear();
        assertEquals(List.of(), m.configureVf(IGB, 3, cfg));
        assertEquals(List.of(), host.netlinkSets, "second time: nothing sent");
    }

    @Test
    void refusedAttributeIsNamed() {
        m.setNumVfs(IGB, 4, null, T);
        var e = assertThrows(SriovException.class,
                () -> m.configureVf(IGB, 1, new VfNetConfig("52:54:00:00:00:11", 5, 0, "802.1ad", null, null, null, null, null)));
        assertEquals(SriovException.Reason.NETLINK, e.reason());
        assertTrue(e.getMessage().contains("enp1s0 VF 1: the kernel rejected IFLA_VF_VLAN_LIST (vlan=5 qos=0 proto=802.1ad)"),
                e.getMessage());
        assertTrue(e.getMessage().contains("VLAN protocol"), e.getMessage());
        assertEquals("52:54:00:00:00:11", m.readVf(IGB, 1).mac(), "the MAC sent before stays: kernel semantics");
        var nic = assertThrows(SriovException.class, () -> m.configureVf(NVME, 0, new VfNetConfig("52:54:00:00:00:11",
                null, null, null, null, null, null, null, null)));
        assertEquals(SriovException.Reason.NOT_A_NIC, nic.reason());
    }

    @Test
    void bindsToVfioPciAndGivesBackToTheHostDriver() throws Exception {
        m.setNumVfs(IGB, 2, null, T);
        PciAddress vf1 = m.pf(IGB).vf(1).bdf();
        host.writes.clear();
        DriverBinder.Binding before = m.bind(vf1, "vfio-pci");
        assertEquals(new DriverBinder.Binding("igbvf", null), before);
        assertEquals(List.of("bus/pci/devices/0000:01:10.2/driver_override <- vfio-pci",
                "bus/pci/drivers/igbvf/unbind <- 0000:01:10.2", "bus/pci/drivers_probe <- 0000:01:10.2"), host.writes);
        assertEquals("vfio-pci", m.discovery().driverOf(vf1));
        assertNull(m.pf(IGB).vf(1).netdev());
        host.writes.clear();
        m.bind(vf1, "vfio-pci");
        assertEquals(List.of(), host.writes, "already bound: no-op");
        assertEquals("igbvf", m.unbind(vf1));
        assertEquals(new DriverBinder.Binding("igbvf", null), m.binding(vf1));
        // no IOMMU group: refused before anything is written
        Files.delete(host.devices().resolve(vf1.toString()).resolve("iommu_group"));
        host.writes.clear();
        var e = assertThrows(SriovException.class, () -> m.bind(vf1, "vfio-pci"));
        assertEquals(SriovException.Reason.DRIVER, e.reason());
        assertTrue(e.getMessage().contains("intel_iommu=on"), e.getMessage());
        assertEquals(List.of(), host.writes);
        var missing = assertThrows(SriovException.class, () -> m.bind(vf1, "nosuchdrv"));
        assertTrue(missing.getMessage().contains("not loaded"), missing.getMessage());
    }

    @Test
    void failedProbeRestoresThePreviousBinding() {
        m.setNumVfs(IGB, 1, null, T);
        PciAddress vf0 = m.pf(IGB).vf(0).bdf();
        host.failWrite.put("drivers_probe <- 0000:01:10.0", Errno.ENODEV);
        var e = assertThrows(SriovException.class, () -> m.bind(vf0, "vfio-pci"));
        assertTrue(e.getMessage().contains("ENODEV"), e.getMessage());
        host.failWrite.clear();
        // restore tried drivers_probe too and failed under the injection; the override is cleared at least
        assertEquals(null, m.binding(vf0).override());
    }
}

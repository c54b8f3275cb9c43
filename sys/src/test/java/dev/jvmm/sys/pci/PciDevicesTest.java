package dev.jvmm.sys.pci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one reader of host PCI facts, against a fake sysfs tree. */
class PciDevicesTest {
    @TempDir
    Path sys;
    FakePciHost host;
    PciDevices pci;

    private static PciAddress a(String s) {
        return PciAddress.parse(s);
    }

    @BeforeEach
    void tree() throws Exception {
        host = new FakePciHost(sys);
        host.device("0000:00:00.0", "8086", "29c0", "060000", null)
                .device("0000:00:02.0", "1b36", "000c", "060400", "pcieport")
                .device("0000:01:00.0", "8086", "10C9", "020000", "igb", "0000:00:02.0")
                .device("0000:01:10.0", "8086", "10ca", "020000", "vfio-pci", "0000:00:02.0")
                .group(3, "0000:00:02.0").group(4, "0000:01:00.0").group(20, "0000:01:10.0")
                .netdev("0000:01:00.0", "enp1s0", "up")
                .attr("0000:01:00.0", "sriov_totalvfs", "7").attr("0000:01:00.0", "sriov_numvfs", "2")
                .attr("0000:01:00.0", "sriov_drivers_autoprobe", "0")
                .attr("0000:01:10.0", "driver_override", "vfio-pci")
                .attr("0000:01:00.0", "numa_node", "1");
        FakePciHost.link(host.realDir("0000:01:00.0").resolve("virtfn0"), host.realDir("0000:01:10.0"));
        FakePciHost.link(host.realDir("0000:01:10.0").resolve("physfn"), host.realDir("0000:01:00.0"));
        Files.createDirectories(sys.resolve("bus/pci/devices/not-a-device"));
        pci = new PciDevices(host.sysfs);
    }

    @Test
    void readsIdentityDriverGroupNetdevsAndSriov() {
        assertEquals(List.of(a("0000:00:00.0"), a("0000:00:02.0"), a("0000:01:00.0"), a("0000:01:10.0")), pci.all());
        PciFunction pf = pci.function(a("01:00.0"));
        assertEquals("8086:10c9", pf.id(), "lower-case, without 0x");
        assertEquals("020000", pf.pciClass());
        assertEquals("igb", pf.driver());
        assertNull(pf.driverOverride(), "(null) is no override");
        assertEquals(4, pf.iommuGroup());
        assertEquals(1, pf.numaNode());
        assertEquals(List.of("enp1s0"), pf.netdevs());
        assertNull(pf.physfn());
        assertEquals(new PciFunction.Sriov(7, 2, false, List.of(new PciFunction.Vf(0, a("0000:01:10.0")))), pf.sriov());
        assertFalse(pf.isBridge());
        PciFunction vf = pci.function(a("0000:01:10.0"));
        assertEquals("vfio-pci", vf.driverOverride());
        assertEquals(a("0000:01:00.0"), vf.physfn());
        assertNull(vf.sriov());
        PciFunction host0 = pci.function(a("0000:00:00.0"));
        assertNull(host0.driver());
        assertNull(host0.iommuGroup());
        assertEquals(-1, host0.numaNode());
        assertTrue(pci.function(a("0000:00:02.0")).isBridge());
        assertEquals("up", pci.operstate(a("0000:01:00.0"), "enp1s0"));
        assertEquals(a("0000:01:00.0"), pci.byInterface("enp1s0"));
        assertNull(pci.byInterface("eth9"));
    }

    @Test
    void bridgesAboveADeviceAndItsConfigSpace() throws Exception {
        assertEquals(List.of(a("0000:00:02.0")), pci.upstreamBridges(a("0000:01:00.0")));
        assertEquals(List.of(), pci.upstreamBridges(a("0000:00:02.0")));
        Files.write(host.dev("0000:00:02.0").resolve("config"), new byte[] {(byte) 0x36, 0x1b, 0x0c, 0x00, 1});
        assertArrayEquals(new byte[] {(byte) 0x36, 0x1b, 0x0c, 0x00}, pci.config(a("0000:00:02.0"), 4).orElseThrow());
        assertTrue(pci.config(a("0000:01:00.0"), 64).isEmpty());
    }

    @Test
    void aMissingDeviceIsNamed() {
        PciException e = assertThrows(PciException.class, () -> pci.function(a("0000:09:00.0")));
        assertEquals(PciException.Reason.DEVICE_NOT_FOUND, e.reason());
        assertEquals("PCI device 0000:09:00.0 does not exist (" + sys.resolve("bus/pci/devices/0000:09:00.0")
                + " is missing; lspci -D lists the devices)", e.getMessage());
        assertFalse(pci.exists(a("0000:09:00.0")));
    }

    @Test
    void sysfsReadsTellAbsentFromUnreadable() throws Exception {
        Sysfs s = host.sysfs;
        assertNull(s.read(sys.resolve("nope")));
        assertNull(s.readInt(sys.resolve("nope")));
        assertEquals(List.of(), s.list(sys.resolve("nope")));
        assertNull(s.linkName(sys.resolve("nope")));
        host.attr("0000:01:00.0", "sriov_numvfs", "lots");
        PciException e = assertThrows(PciException.class, () -> pci.function(a("0000:01:00.0")));
        assertEquals(PciException.Reason.SYSFS, e.reason());
        assertTrue(e.getMessage().endsWith("sriov_numvfs holds 'lots', not a number"), e.getMessage());
    }
}

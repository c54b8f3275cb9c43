package dev.jvmm.sys.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link IommuGroups} against a fake sysfs tree laid out (links and all) as the kernel lays out /sys. */
class IommuGroupsTest {
    @TempDir
    Path sys;
    IommuGroups groups;

    private static PciAddress a(String s) {
        return PciAddress.parse(s);
    }

    @BeforeEach
    void tree() {
        FakePciHost h = new FakePciHost(sys);
        h.device("0000:01:10.0", "8086", "10ca", "020000", "vfio-pci").group(12, "0000:01:10.0");  // alone, ready
        h.device("0000:01:10.2", "8086", "10ca", "020000", "igbvf").group(13, "0000:01:10.2");     // alone, host driver
        h.device("0000:03:00.0", "10de", "1b80", "030000", "vfio-pci");                              // group 14: two functions,
        h.device("0000:03:00.1", "10de", "10f0", "040300", "snd_hda_intel").group(14, "0000:03:00.0", "0000:03:00.1");
        h.device("0000:04:00.0", "8086", "10d3", "020000", "vfio-pci");                              // group 15: vfio-pci +
        h.device("0000:04:00.1", "8086", "10d3", "020000", null);                                    // unbound + a bridge
        h.device("0000:00:1c.0", "8086", "a110", "060400", "pcieport").group(15, "0000:04:00.0", "0000:04:00.1", "0000:00:1c.0");
        h.device("0000:05:00.0", "8086", "10d3", "020000", "vfio-pci");                              // no IOMMU
        groups = new IommuGroups(sys);
    }

    @Test
    void groupMembersAndTypeFromLinks() {
        assertEquals(List.of(12, 13, 14, 15), groups.all());
        assertEquals(12, groups.groupOf(a("0000:01:10.0")));
        assertEquals(14, groups.groupOf(a("03:00.1")));
        assertEquals(List.of(a("0000:03:00.0"), a("0000:03:00.1")), groups.devices(14));
        assertEquals(List.of(a("0000:00:1c.0"), a("0000:04:00.0"), a("0000:04:00.1")), groups.devices(15));
        assertEquals("DMA", groups.type(14));
        assertEquals("igbvf", groups.pci().driver(a("0000:01:10.2")));
        assertNull(groups.pci().driver(a("0000:04:00.1")));
    }

    @Test
    void viabilityNamesTheDevicesOnHostDrivers() {
        assertTrue(groups.viability(12).viable());
        assertTrue(groups.viability(15).viable(), "unbound devices and pcieport bridges do not block a group");
        IommuGroups.Viability v = groups.viability(14);
        assertFalse(v.viable());
        assertEquals(List.of("0000:03:00.1 (snd_hda_intel)"), v.notBoundToVfio());
        PciException e = assertThrows(PciException.class, () -> groups.requireVfioReady(a("0000:03:00.0")));
        assertEquals(PciException.Reason.GROUP_NOT_VIABLE, e.reason());
        assertEquals("IOMMU group 14 is not viable: every device in it must be bound to vfio-pci (or have no driver); "
                + "these are not: 0000:03:00.1 (snd_hda_intel) (group members: 0000:03:00.0 0000:03:00.1)", e.getMessage());
        assertEquals(12, groups.requireVfioReady(a("0000:01:10.0")));
        assertEquals(15, groups.requireVfioReady(a("0000:04:00.0")));
        assertTrue(IommuGroups.allowsVfio(null));
        assertFalse(IommuGroups.allowsVfio("e1000e"));
    }

    @Test
    void notBoundToVfioSaysWhichDriverAndHowToRebind() {
        PciException e = assertThrows(PciException.class, () -> groups.requireVfioReady(a("0000:01:10.2")));
        assertEquals(PciException.Reason.NOT_BOUND_TO_VFIO, e.reason());
        assertEquals("PCI device 0000:01:10.2 is bound to igbvf, not to vfio-pci; bind it with: modprobe vfio-pci; "
                + "echo vfio-pci > /sys/bus/pci/devices/0000:01:10.2/driver_override; "
                + "echo 0000:01:10.2 > /sys/bus/pci/drivers/igbvf/unbind; echo 0000:01:10.2 > /sys/bus/pci/drivers_probe",
                e.getMessage());
        PciException unbound = assertThrows(PciException.class, () -> groups.requireVfioReady(a("0000:04:00.1")));
        assertTrue(unbound.getMessage().startsWith("PCI device 0000:04:00.1 is not bound to vfio-pci (no driver); bind it with: "),
                unbound.getMessage());
    }

    @Test
    void missingDeviceAndNoIommu() {
        PciException missing = assertThrows(PciException.class, () -> groups.groupOf(a("0000:09:00.0")));
        assertEquals(PciException.Reason.DEVICE_NOT_FOUND, missing.reason());
        PciException noGroup = assertThrows(PciException.class, () -> groups.groupOf(a("0000:05:00.0")));
        assertEquals(PciException.Reason.NO_IOMMU_GROUP, noGroup.reason());
        assertEquals("PCI device 0000:05:00.0 has no IOMMU group: no IOMMU is active (enable VT-d/AMD-Vi in the firmware"
                + " and boot with intel_iommu=on or amd_iommu=on; ls /sys/kernel/iommu_groups must not be empty)",
                noGroup.getMessage());
        assertEquals(PciException.Reason.NO_IOMMU_GROUP, assertThrows(PciException.class, () -> groups.devices(99)).reason());
    }
}

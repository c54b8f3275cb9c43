package dev.jvmm.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link IommuGroups} against a fake sysfs tree laid out (links and all) as the kernel lays out /sys. */
class IommuGroupsTest {
    @TempDir
    Path sys;
    IommuGroups groups;

    /** A device under /sys/devices with the bus link, its iommu_group link and optionally a driver link. */
    private void device(String bdf, Integer group, String driver) throws IOException {
        Path real = Files.createDirectories(sys.resolve("devices/pci0000:00/0000:00:02.0/" + bdf));
        Files.createDirectories(sys.resolve("bus/pci/devices"));
        Files.createSymbolicLink(sys.resolve("bus/pci/devices/" + bdf), Path.of("../../../devices/pci0000:00/0000:00:02.0/" + bdf));
        if (group != null) {
            Path g = Files.createDirectories(sys.resolve("kernel/iommu_groups/" + group + "/devices"));
            Files.createSymbolicLink(real.resolve("iommu_group"), Path.of("../../../../kernel/iommu_groups/" + group));
            Files.createSymbolicLink(g.resolve(bdf), Path.of("../../../../devices/pci0000:00/0000:00:02.0/" + bdf));
        }
        if (driver != null) {
            Files.createDirectories(sys.resolve("bus/pci/drivers/" + driver));
            Files.createSymbolicLink(real.resolve("driver"), Path.of("../../../../bus/pci/drivers/" + driver));
        }
    }

    @BeforeEach
    void tree() throws IOException {
        groups = new IommuGroups(sys);
        device("0000:01:10.0", 12, "vfio-pci");          // alone, ready
        device("0000:01:10.2", 13, "igbvf");             // alone, on a host driver
        device("0000:03:00.0", 14, "vfio-pci");          // group 14: two functions, one on a host driver
        device("0000:03:00.1", 14, "snd_hda_intel");
        device("0000:04:00.0", 15, "vfio-pci");          // group 15: vfio-pci + unbound + a bridge
        device("0000:04:00.1", 15, null);
        device("0000:00:1c.0", 15, "pcieport");
        device("0000:05:00.0", null, "vfio-pci");        // no IOMMU
    }

    @Test
    void groupDevicesAndDriverFromLinks() {
        assertEquals(12, groups.groupOf("0000:01:10.0"));
        assertEquals(14, groups.groupOf("03:00.1"));
        assertEquals(List.of("0000:03:00.0", "0000:03:00.1"), groups.devices(14));
        assertEquals(List.of("0000:00:1c.0", "0000:04:00.0", "0000:04:00.1"), groups.devices(15));
        assertEquals(Optional.of("igbvf"), groups.driverOf("0000:01:10.2"));
        assertEquals(Optional.empty(), groups.driverOf("0000:04:00.1"));
    }

    @Test
    void viabilityNamesTheDevicesOnHostDrivers() {
        assertTrue(groups.viability(12).viable());
        assertTrue(groups.viability(15).viable(), "unbound devices and pcieport bridges do not block a group");
        IommuGroups.Viability v = groups.viability(14);
        assertFalse(v.viable());
        assertEquals(List.of("0000:03:00.1 (snd_hda_intel)"), v.notBoundToVfio());
        IommuException e = assertThrows(IommuException.class, () -> groups.requireVfioReady("0000:03:00.0"));
        assertEquals(IommuException.Reason.GROUP_NOT_VIABLE, e.reason());
        assertEquals("IOMMU group 14 is not viable: every device in it must be bound to vfio-pci (or have no driver); "
                + "these are not: 0000:03:00.1 (snd_hda_intel) (group members: 0000:03:00.0 0000:03:00.1)", e.getMessage());
        assertEquals(12, groups.requireVfioReady("0000:01:10.0"));
        assertEquals(15, groups.requireVfioReady("0000:04:00.0"));
    }

    @Test
    void notBoundToVfioSaysWhichDriverAndHowToRebind() {
        IommuException e = assertThrows(IommuException.class, () -> groups.requireVfioReady("0000:01:10.2"));
        assertEquals(IommuException.Reason.NOT_BOUND_TO_VFIO, e.reason());
        assertEquals("PCI device 0000:01:10.2 is bound to igbvf, not to vfio-pci; bind it with: modprobe vfio-pci; "
                + "echo vfio-pci > /sys/bus/pci/devices/0000:01:10.2/driver_override; "
                + "echo 0000:01:10.2 > /sys/bus/pci/drivers/igbvf/unbind; echo 0000:01:10.2 > /sys/bus/pci/drivers_probe",
                e.getMessage());
        IommuException unbound = assertThrows(IommuException.class, () -> groups.requireVfioReady("0000:04:00.1"));
        assertTrue(unbound.getMessage().startsWith("PCI device 0000:04:00.1 is not bound to vfio-pci (no driver); bind it with: "),
                unbound.getMessage());
    }

    @Test
    void missingDeviceNoIommuAndBadAddresses() {
        IommuException missing = assertThrows(IommuException.class, () -> groups.groupOf("0000:09:00.0"));
        assertEquals(IommuException.Reason.DEVICE_NOT_FOUND, missing.reason());
        IommuException noGroup = assertThrows(IommuException.class, () -> groups.groupOf("0000:05:00.0"));
        assertEquals(IommuException.Reason.NO_IOMMU_GROUP, noGroup.reason());
        assertTrue(noGroup.getMessage().contains("intel_iommu=on"), noGroup.getMessage());
        assertEquals(IommuException.Reason.NO_IOMMU_GROUP, assertThrows(IommuException.class, () -> groups.devices(99)).reason());
        for (String bad : new String[] {"", "1:10.0", "0000:01:10.8", "0000:01:10", "../../etc", "0000:01:10.0/../x"}) {
            IommuException e = assertThrows(IommuException.class, () -> IommuGroups.canonicalBdf(bad), bad);
            assertEquals(IommuException.Reason.INVALID_ARGUMENT, e.reason());
        }
        assertEquals(IommuException.Reason.INVALID_ARGUMENT,
                assertThrows(IommuException.class, () -> IommuGroups.canonicalBdf(null)).reason());
        assertEquals("0000:01:10.0", IommuGroups.canonicalBdf(" 01:10.0 "));
        assertEquals("0000:af:1f.7", IommuGroups.canonicalBdf("0000:AF:1F.7"));
    }

    @Test
    void containerWithoutDevVfioNamesTheModule(@TempDir Path dev) {
        IommuException e = assertThrows(IommuException.class, () -> VfioContainer.open(dev, groups));
        assertEquals(IommuException.Reason.VFIO_MISSING, e.reason());
        assertEquals(dev.resolve("vfio") + " is missing: the VFIO modules are not loaded (modprobe vfio-pci; it loads "
                + "vfio and vfio_iommu_type1)", e.getMessage());
    }
}

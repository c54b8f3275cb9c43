package dev.jvmm.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jvmm.sys.pci.FakePciHost;
import dev.jvmm.sys.pci.IommuGroups;
import dev.jvmm.sys.pci.PciAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the IOMMU layer reports before any ioctl: the host PCI layer's group and address errors as
 * {@link IommuException}s with the reasons vmm maps (the sysfs reading itself is tested in sys), and a missing
 * {@code /dev/vfio}.
 */
class VfioContainerTest {
    @TempDir
    Path tmp;

    private IommuGroups groups() {
        FakePciHost h = new FakePciHost(tmp.resolve("sys"));
        h.device("0000:01:10.2", "8086", "10ca", "020000", "igbvf").group(13, "0000:01:10.2");
        h.device("0000:03:00.0", "10de", "1b80", "030000", "vfio-pci");
        h.device("0000:03:00.1", "10de", "10f0", "040300", "snd_hda_intel").group(14, "0000:03:00.0", "0000:03:00.1");
        h.device("0000:05:00.0", "8086", "10d3", "020000", "vfio-pci");
        return new IommuGroups(h.sysfs.root());
    }

    private static IommuException.Reason reason(Runnable r) {
        return assertThrows(IommuException.class, r::run).reason();
    }

    @Test
    void hostPciErrorsKeepTheirMessageUnderTheIommuReasons() {
        IommuGroups g = groups();
        IommuException e = assertThrows(IommuException.class,
                () -> IommuException.mapping(() -> g.requireVfioReady(PciAddress.parse("0000:01:10.2"))));
        assertEquals(IommuException.Reason.NOT_BOUND_TO_VFIO, e.reason());
        assertEquals("PCI device 0000:01:10.2 is bound to igbvf, not to vfio-pci; bind it with: modprobe vfio-pci; "
                + "echo vfio-pci > /sys/bus/pci/devices/0000:01:10.2/driver_override; "
                + "echo 0000:01:10.2 > /sys/bus/pci/drivers/igbvf/unbind; echo 0000:01:10.2 > /sys/bus/pci/drivers_probe",
                e.getMessage());
        assertEquals(IommuException.Reason.GROUP_NOT_VIABLE,
                reason(() -> IommuException.mapping(() -> g.requireVfioReady(PciAddress.parse("0000:03:00.0")))));
        assertEquals(IommuException.Reason.NO_IOMMU_GROUP,
                reason(() -> IommuException.mapping(() -> g.requireVfioReady(PciAddress.parse("0000:05:00.0")))));
        assertEquals(IommuException.Reason.DEVICE_NOT_FOUND,
                reason(() -> IommuException.mapping(() -> g.groupOf(PciAddress.parse("0000:09:00.0")))));
        IommuException bad = assertThrows(IommuException.class, () -> IommuException.mapping(() -> PciAddress.parse("1:10.0")));
        assertEquals(IommuException.Reason.INVALID_ARGUMENT, bad.reason());
        assertEquals("'1:10.0' is not a PCI address (expected DDDD:BB:DD.F, for example 0000:01:00.0)", bad.getMessage());
        assertEquals(IommuException.Reason.GROUP_NOT_VIABLE, IommuException.of(g.viability(14).notViable()).reason());
    }

    @Test
    void containerWithoutDevVfioNamesTheModule(@TempDir Path dev) {
        IommuException e = assertThrows(IommuException.class, () -> VfioContainer.open(dev, groups()));
        assertEquals(IommuException.Reason.VFIO_MISSING, e.reason());
        assertEquals(dev.resolve("vfio") + " is missing: the VFIO modules are not loaded (modprobe vfio-pci; it loads "
                + "vfio and vfio_iommu_type1)", e.getMessage());
    }
}

package dev.jvmm.sys.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.Errno;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** driver_override + drivers_probe binding against a fake kernel: what is written, in which order, and restore. */
class DriverBinderTest {
    private static final PciAddress NIC = PciAddress.parse("0000:03:00.0");
    @TempDir
    Path sys;
    FakePciHost host;
    DriverBinder binder;

    @BeforeEach
    void tree() {
        host = new FakePciHost(sys);
        host.driver("vfio-pci").device("0000:03:00.0", "8086", "10d3", "020000", "e1000e").group(14, "0000:03:00.0")
                .device("0000:05:00.0", "8086", "10d3", "020000", "e1000e");
        binder = new DriverBinder(host.sysfs, false);
    }

    @Test
    void bindsWithDriverOverrideAndGivesBack() {
        DriverBinder.Binding before = binder.bind(NIC, "vfio-pci");
        assertEquals(new DriverBinder.Binding("e1000e", null), before);
        assertEquals(List.of("bus/pci/devices/0000:03:00.0/driver_override <- vfio-pci",
                "bus/pci/drivers/e1000e/unbind <- 0000:03:00.0", "bus/pci/drivers_probe <- 0000:03:00.0"), host.writes);
        assertEquals(new DriverBinder.Binding("vfio-pci", "vfio-pci"), binder.binding(NIC));
        host.writes.clear();
        assertEquals(new DriverBinder.Binding("vfio-pci", "vfio-pci"), binder.bind(NIC, "vfio-pci"));
        assertEquals(List.of(), host.writes, "already bound: no-op");
        assertEquals("e1000e", binder.restore(NIC, before));
        assertEquals(List.of("bus/pci/devices/0000:03:00.0/driver_override <- ", "bus/pci/drivers/vfio-pci/unbind <- 0000:03:00.0",
                "bus/pci/drivers_probe <- 0000:03:00.0"), host.writes);
        assertEquals(before, binder.binding(NIC));
        binder.bind(NIC, "vfio-pci");
        assertEquals("e1000e", binder.bindHost(NIC), "no record: the host's default driver");
        assertEquals("(null)", host.overrideOf("0000:03:00.0"));
        assertEquals(new DriverBinder.Binding("e1000e", null), binder.unbind(NIC));
        assertNull(host.driverOf("0000:03:00.0"));
    }

    @Test
    void refusesBeforeWritingAnything() {
        PciException noGroup = assertThrows(PciException.class, () -> binder.bind(PciAddress.parse("0000:05:00.0"), "vfio-pci"));
        assertEquals(PciException.Reason.NO_IOMMU_GROUP, noGroup.reason());
        assertTrue(noGroup.getMessage().contains("intel_iommu=on"), noGroup.getMessage());
        PciException missing = assertThrows(PciException.class, () -> binder.bind(NIC, "nosuchdrv"));
        assertEquals(PciException.Reason.DRIVER, missing.reason());
        assertEquals("driver nosuchdrv is not loaded (" + sys.resolve("bus/pci/drivers/nosuchdrv")
                + " missing); load it with modprobe nosuchdrv", missing.getMessage());
        assertEquals(PciException.Reason.DEVICE_NOT_FOUND,
                assertThrows(PciException.class, () -> binder.bind(PciAddress.parse("0000:09:00.0"), "vfio-pci")).reason());
        assertEquals(List.of(), host.writes);
    }

    @Test
    void aFailedProbeRestoresThePreviousBinding() {
        host.failOnce.put("drivers_probe <- 0000:03:00.0", Errno.ENODEV);
        PciException e = assertThrows(PciException.class, () -> binder.bind(NIC, "vfio-pci"));
        assertEquals(PciException.Reason.DRIVER, e.reason());
        assertEquals("binding 0000:03:00.0 to vfio-pci failed (ENODEV: is the IOMMU enabled?)", e.getMessage());
        assertEquals(new DriverBinder.Binding("e1000e", null), binder.binding(NIC), "back on e1000e");
    }
}

package dev.jvmm.vmm.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.pci.IommuGroups;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciDevices;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.VfioConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code --device vfio=} checked against this host's real sysfs before any KVM or VFIO call: on a host without an
 * IOMMU (the build machines, and CI) a real PCI function is refused because it has no IOMMU group; where there is
 * an IOMMU, the same function is refused because it is not on vfio-pci (or accepted, if it is); an address sysfs
 * does not have is refused as missing. Nothing is opened, so nothing can leak.
 */
class VfioPreflightTest {
    @Test
    void realFunctionsOfThisHost() {
        VmmException missing = assertThrows(VmmException.class,
                () -> VfioDevices.preflight(List.of(new VfioConfig("0000:fe:1f.7"))));
        assertTrue(missing.getMessage().startsWith("--device vfio=0000:fe:1f.7: PCI device 0000:fe:1f.7 does not exist"),
                missing.getMessage());

        List<PciAddress> all = PciDevices.system().all();
        assertTrue(!all.isEmpty(), "this host shows PCI functions in /sys/bus/pci/devices");
        String bdf = all.get(0).toString();
        IommuGroups groups = IommuGroups.system();
        if (groups.all().isEmpty()) {
            VmmException e = assertThrows(VmmException.class, () -> VfioDevices.preflight(List.of(new VfioConfig(bdf))));
            assertEquals("--device vfio=" + bdf + ": PCI device " + bdf + " has no IOMMU group: no IOMMU is active "
                    + "(enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on or amd_iommu=on; "
                    + "ls /sys/kernel/iommu_groups must not be empty)", e.getMessage());
        } else if (!"vfio-pci".equals(groups.pci().driver(all.get(0)))) {
            VmmException e = assertThrows(VmmException.class, () -> VfioDevices.preflight(List.of(new VfioConfig(bdf))));
            assertTrue(e.getMessage().contains("is not bound to vfio-pci") || e.getMessage().contains(", not to vfio-pci"),
                    e.getMessage());
        }
    }

    /** The launch log's interrupt line is the probe's answer for this host, word for word (one owner). */
    @Test
    void interruptBypassLineIsTheProbesAnswer() {
        String line = VfioDevices.interruptBypass();
        assertTrue(line.matches("device interrupts bypass the VMM: (yes|partly|no|unknown)\\b.*"), line);
        assertEquals(dev.jvmm.probe.PostedInterrupts.host().line(), line);
    }
}

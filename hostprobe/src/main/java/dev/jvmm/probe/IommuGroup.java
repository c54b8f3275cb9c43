package dev.jvmm.probe;

import dev.jvmm.sys.pci.PciFunction;
import java.util.List;

/**
 * One IOMMU group ({@code /sys/kernel/iommu_groups/N}).
 *
 * @param id       the group number
 * @param type     the default domain type ({@code DMA}, {@code DMA-FQ}, {@code identity}), or empty
 * @param devices  its members
 * @param viable   it has an endpoint, and every member is bound to vfio-pci, pci-stub or pcieport or to no driver
 *                 (the kernel's rule), so VFIO can use it now
 * @param isolated at most one endpoint device (several functions of one device count as one only when the
 *                 group holds nothing else), so one device can be assigned without taking others with it
 */
public record IommuGroup(String id, String type, List<PciFunction> devices, boolean viable, boolean isolated) {
    public IommuGroup {
        devices = List.copyOf(devices);
    }

    /** Members that are not bridges. */
    public List<PciFunction> endpoints() {
        return devices.stream().filter(d -> !d.isBridge()).toList();
    }
}

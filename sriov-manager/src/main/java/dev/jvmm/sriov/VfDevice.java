package dev.jvmm.sriov;

import dev.jvmm.sys.netlink.VfInfo;
import dev.jvmm.sys.pci.PciAddress;

/**
 * One VF: its index on the PF ({@code virtfnN}), PCI address, bound driver (null if none), {@code driver_override}
 * (null if unset), IOMMU group (null without an IOMMU), netdev (null unless a network driver is bound) and the
 * PF's view of its network settings over rtnetlink (null for a non-NIC PF or when not read).
 */
public record VfDevice(int index, PciAddress bdf, String driver, String driverOverride, Integer iommuGroup, String netdev,
                       VfInfo net) {
    public VfDevice withNet(VfInfo n) {
        return new VfDevice(index, bdf, driver, driverOverride, iommuGroup, netdev, n);
    }
}

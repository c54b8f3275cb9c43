package dev.jvmm.sys.pci;

import java.util.List;

/**
 * One PCI function as sysfs shows it ({@code Documentation/ABI/testing/sysfs-bus-pci}).
 *
 * @param address        its address
 * @param vendor         vendor id, 4 lower-case hex digits ({@code ????} when unreadable)
 * @param device         device id, 4 lower-case hex digits ({@code ????} when unreadable)
 * @param pciClass       class code, 6 hex digits ({@code 020000}), empty when unreadable
 * @param driver         the bound driver ({@code driver} link), null when none
 * @param driverOverride {@code driver_override}, null when unset
 * @param iommuGroup     the {@code iommu_group} number, null without an IOMMU
 * @param numaNode       {@code numa_node}, -1 when none
 * @param netdevs        its network interfaces ({@code net/*}), empty unless a network driver is bound
 * @param physfn         for an SR-IOV VF, its PF ({@code physfn}); null otherwise
 * @param sriov          for an SR-IOV PF ({@code sriov_totalvfs} present), its SR-IOV state; null otherwise
 */
public record PciFunction(PciAddress address, String vendor, String device, String pciClass, String driver,
        String driverOverride, Integer iommuGroup, int numaNode, List<String> netdevs, PciAddress physfn, Sriov sriov) {
    public PciFunction {
        netdevs = List.copyOf(netdevs);
    }

    /**
     * The SR-IOV side of a PF.
     *
     * @param totalVfs  {@code sriov_totalvfs}
     * @param numVfs    {@code sriov_numvfs}
     * @param autoprobe {@code sriov_drivers_autoprobe}, null when the kernel has no such file
     * @param vfs       the VFs that exist now ({@code virtfnN} links), by index
     */
    public record Sriov(int totalVfs, int numVfs, Boolean autoprobe, List<Vf> vfs) {
        public Sriov {
            vfs = List.copyOf(vfs);
        }
    }

    /** A {@code virtfnN} link of a PF: the VF's index N and its address. */
    public record Vf(int index, PciAddress address) {
    }

    /** {@code vendor:device}, as lspci -n prints it. */
    public String id() {
        return vendor + ":" + device;
    }

    /** PCI-to-PCI bridge (class 0604), which an IOMMU group may contain without harm. */
    public boolean isBridge() {
        return pciClass.startsWith("0604");
    }

    /** The first network interface (the one rtnetlink talks to), or null. */
    public String netdev() {
        return netdevs.isEmpty() ? null : netdevs.get(0);
    }
}

package dev.jvmm.probe;

import java.util.List;

/**
 * One SR-IOV physical function.
 *
 * @param pf        the PF
 * @param totalVfs  {@code sriov_totalvfs}
 * @param numVfs    {@code sriov_numvfs}
 * @param netdevs   network interfaces of the PF (empty for storage PFs)
 * @param operstate {@code operstate} of the first netdev, or empty
 * @param vfs       BDFs of the VFs that exist now ({@code virtfnN})
 * @param autoprobe {@code sriov_drivers_autoprobe}, or empty
 * @param iommuGroup the PF's IOMMU group, or empty
 */
public record SriovDevice(PciDevice pf, int totalVfs, int numVfs, List<String> netdevs, String operstate,
        List<String> vfs, String autoprobe, String iommuGroup) {
    public SriovDevice {
        netdevs = List.copyOf(netdevs);
        vfs = List.copyOf(vfs);
    }
}

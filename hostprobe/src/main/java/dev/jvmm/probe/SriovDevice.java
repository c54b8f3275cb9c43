package dev.jvmm.probe;

import dev.jvmm.sys.pci.PciFunction;
import java.util.List;

/**
 * One SR-IOV physical function: its sysfs facts ({@link PciFunction#sriov()} is not null) and the link state of
 * its first network interface.
 *
 * @param pf        the PF
 * @param operstate {@code operstate} of the first netdev, or empty
 */
public record SriovDevice(PciFunction pf, String operstate) {
    /** {@code sriov_totalvfs}. */
    public int totalVfs() {
        return pf.sriov().totalVfs();
    }

    /** {@code sriov_numvfs}. */
    public int numVfs() {
        return pf.sriov().numVfs();
    }

    /** Network interfaces of the PF (empty for storage PFs). */
    public List<String> netdevs() {
        return pf.netdevs();
    }

    /** BDFs of the VFs that exist now ({@code virtfnN}). */
    public List<String> vfs() {
        return pf.sriov().vfs().stream().map(v -> v.address().toString()).toList();
    }

    /** {@code sriov_drivers_autoprobe} as sysfs shows it ({@code 1} or {@code 0}), or empty. */
    public String autoprobe() {
        Boolean a = pf.sriov().autoprobe();
        return a == null ? "" : a ? "1" : "0";
    }

    /** The PF's IOMMU group, or empty. */
    public String iommuGroup() {
        return pf.iommuGroup() == null ? "" : pf.iommuGroup().toString();
    }

    /** The PF's driver, or empty. */
    public String driver() {
        return pf.driver() == null ? "" : pf.driver();
    }
}

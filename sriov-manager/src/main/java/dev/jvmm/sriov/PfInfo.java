package dev.jvmm.sriov;

import dev.jvmm.sys.pci.PciAddress;
import java.util.List;

/**
 * A physical function with the SR-IOV capability as sysfs shows it.
 *
 * @param netdevs   the PF's network interfaces ({@code net/*}); empty for a non-NIC PF such as NVMe
 * @param autoprobe {@code sriov_drivers_autoprobe}: whether new VFs get bound to a driver automatically
 * @param vfs       the VFs that exist now ({@code virtfnN})
 */
public record PfInfo(PciAddress bdf, String vendorDevice, String driver, int totalVfs, int numVfs, boolean autoprobe,
                     List<String> netdevs, List<VfDevice> vfs) {
    public boolean isNic() {
        return !netdevs.isEmpty();
    }

    /** The first netdev (the one rtnetlink VF settings go through), or null. */
    public String netdev() {
        return netdevs.isEmpty() ? null : netdevs.get(0);
    }

    public VfDevice vf(int index) {
        for (VfDevice v : vfs) {
            if (v.index() == index) {
                return v;
            }
        }
        return null;
    }
}

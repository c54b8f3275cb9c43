package dev.jvmm.sriov;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.pci.PciAddress;

/** Turns the errno of a failed SR-IOV operation into a reason and advice an operator can act on. */
final class Explain {
    private static final int ERANGE = 34;
    private static final int EPROTONOSUPPORT = 93;

    private Explain() {
    }

    /** A failed write of {@code sriov_numvfs}. */
    static SriovException numVfs(PciAddress pf, int n, ErrnoException e) {
        String what = "setting " + n + " VFs on " + pf + " failed";
        return switch (e.errno()) {
            case Errno.EBUSY -> new SriovException(SriovException.Reason.BUSY, what + ": EBUSY: the PF already has VFs"
                    + " (the count can only go 0 -> N or N -> 0) or its VFs are in use (bound to vfio-pci and opened by a VM?)", e);
            case Errno.ENOMEM -> new SriovException(SriovException.Reason.NO_RESOURCES, what + ": ENOMEM: not enough PCI bus"
                    + " or BAR (MMIO) space for the VFs; enable SR-IOV in the firmware setup, or boot with pci=realloc", e);
            case Errno.ENOSPC -> new SriovException(SriovException.Reason.NO_RESOURCES, what + ": ENOSPC: no MSI-X vectors"
                    + " left for the VFs; create fewer VFs", e);
            case Errno.ENOENT, Errno.EIO, Errno.EOPNOTSUPP, Errno.ENOSYS -> new SriovException(SriovException.Reason.NOT_SRIOV,
                    what + ": " + e.errnoName() + ": the PF's driver does not support SR-IOV (no sriov_configure)"
                    + " or the PF has no driver bound", e);
            case ERANGE, Errno.EINVAL -> new SriovException(SriovException.Reason.INVALID_ARGUMENT, what + ": "
                    + e.errnoName() + ": more VFs than sriov_totalvfs, or a value the driver refuses", e);
            default -> new SriovException(SriovException.Reason.SYSFS, what, e);
        };
    }

    /** A VF attribute the kernel refused. */
    static SriovException vfAttribute(String pf, int vf, String attribute, ErrnoException e) {
        String hint = switch (e.errno()) {
            case Errno.EOPNOTSUPP -> ": the PF driver does not implement this VF setting";
            case EPROTONOSUPPORT -> ": the PF driver does not support this VLAN protocol (most only do 802.1Q)";
            case Errno.EINVAL -> ": the driver refused the value (out of range for this NIC, or VF index too high)";
            case Errno.EPERM -> ": needs CAP_NET_ADMIN (run as root)";
            default -> "";
        };
        return new SriovException(SriovException.Reason.NETLINK, pf + " VF " + vf + ": the kernel rejected "
                + attribute + " with " + e.errnoName() + hint, e);
    }
}

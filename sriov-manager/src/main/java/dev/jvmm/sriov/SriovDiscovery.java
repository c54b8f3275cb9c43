package dev.jvmm.sriov;

import static dev.jvmm.sriov.SriovException.Reason.NOT_FOUND;
import static dev.jvmm.sriov.SriovException.Reason.NOT_SRIOV;

import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciDevices;
import dev.jvmm.sys.pci.PciFunction;
import dev.jvmm.sys.pci.Sysfs;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds SR-IOV PFs and their VFs ({@code Documentation/ABI/testing/sysfs-bus-pci}): a PF has
 * {@code sriov_totalvfs}; its VFs are the {@code virtfnN} links; each VF links back with {@code physfn}. The sysfs
 * facts come from {@link PciDevices}; this turns them into {@link PfInfo} and {@link VfDevice}.
 */
public final class SriovDiscovery {
    private final Sysfs sysfs;
    private final PciDevices pci;

    public SriovDiscovery(Sysfs sysfs) {
        this.sysfs = sysfs;
        this.pci = new PciDevices(sysfs);
    }

    public Sysfs sysfs() {
        return sysfs;
    }

    public PciDevices pci() {
        return pci;
    }

    /** Every PCI function with an SR-IOV capability, sorted by address. */
    public List<PfInfo> pfs() {
        List<PfInfo> out = new ArrayList<>();
        for (PciAddress a : SriovException.mapping(pci::all)) {
            if (sysfs.read(pci.dir(a).resolve("sriov_totalvfs")) != null) {
                out.add(pf(a));
            }
        }
        return out;
    }

    /**
     * Resolves a PF given as a PCI address or as a network interface name ({@code /sys/class/net/<if>/device}).
     */
    public PciAddress resolve(String pfOrIfname) {
        if (pfOrIfname.contains(":")) { // interface names cannot hold ':' in a useful way; treat as a BDF
            SriovException.mapping(() -> PciAddress.parse(pfOrIfname));
        }
        if (PciAddress.looksLike(pfOrIfname)) {
            PciAddress a = PciAddress.parse(pfOrIfname);
            if (!pci.exists(a)) {
                throw new SriovException(NOT_FOUND, "no PCI device " + a + " (" + pci.dir(a) + " does not exist)");
            }
            return a;
        }
        if (pfOrIfname.isEmpty() || pfOrIfname.contains("/")) {
            throw new SriovException(SriovException.Reason.INVALID_ARGUMENT, "'" + pfOrIfname + "' is neither a PCI address nor an interface name");
        }
        PciAddress a = SriovException.mapping(() -> pci.byInterface(pfOrIfname));
        if (a == null) {
            throw new SriovException(NOT_FOUND, "no network interface '" + pfOrIfname + "' backed by a PCI device ("
                    + sysfs.classNet().resolve(pfOrIfname).resolve("device") + " missing)");
        }
        return a;
    }

    /** The PF at {@code a}; NOT_SRIOV when it has no SR-IOV capability (no {@code sriov_totalvfs}). */
    public PfInfo pf(PciAddress a) {
        if (!pci.exists(a)) {
            throw new SriovException(NOT_FOUND, "no PCI device " + a);
        }
        PciFunction f = SriovException.mapping(() -> pci.function(a));
        if (f.sriov() == null) {
            throw new SriovException(NOT_SRIOV, a + (f.physfn() != null ? " is a VF of " + f.physfn() + ", not a PF"
                    : " has no SR-IOV capability (no sriov_totalvfs in sysfs), or its driver does not support SR-IOV"));
        }
        List<VfDevice> vfs = new ArrayList<>();
        for (PciFunction.Vf v : f.sriov().vfs()) {
            vfs.add(vf(v.index(), v.address()));
        }
        return new PfInfo(a, f.id(), f.driver(), f.sriov().totalVfs(), f.sriov().numVfs(),
                f.sriov().autoprobe() == null || f.sriov().autoprobe(), f.netdevs(), List.copyOf(vfs));
    }

    /** A VF's sysfs facts. */
    public VfDevice vf(int index, PciAddress bdf) {
        PciFunction f = SriovException.mapping(() -> pci.function(bdf));
        return new VfDevice(index, bdf, f.driver(), f.driverOverride(), f.iommuGroup(), f.netdev(), null);
    }

    /** Driver bound to any PCI device, or null. */
    public String driverOf(PciAddress a) {
        return SriovException.mapping(() -> pci.driver(a));
    }
}

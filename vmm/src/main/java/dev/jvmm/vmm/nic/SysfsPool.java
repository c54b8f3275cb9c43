package dev.jvmm.vmm.nic;

import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciDevices;
import dev.jvmm.sys.pci.PciException;
import dev.jvmm.sys.pci.PciFunction;
import dev.jvmm.sys.pci.Sysfs;

/**
 * A {@link PoolView} from sysfs alone: PFs, their VFs and network interfaces as the kernel shows them. It knows no
 * leases, so every VF that exists counts as free; an adapter over sriov-manager's VF pool, which does, takes its
 * place once launch takes leases.
 */
public final class SysfsPool implements PoolView {
    private final Sysfs sysfs;
    private final PciDevices pci;

    public SysfsPool(Sysfs sysfs) {
        this.sysfs = sysfs;
        this.pci = new PciDevices(sysfs);
    }

    /** The running host's. */
    public static SysfsPool host() {
        return new SysfsPool(Sysfs.system());
    }

    @Override
    public Pf pf(String pf) {
        if (PciAddress.looksLike(pf)) {
            PciAddress a = PciAddress.parse(pf);
            return pci.exists(a) ? pci(a, null) : Pf.notFound("no PCI function " + a);
        }
        if (!java.nio.file.Files.exists(sysfs.classNet().resolve(pf))) {
            return Pf.notFound("no network interface " + pf);
        }
        PciAddress a = pci.byInterface(pf);
        return a == null ? Pf.notSriov(pf, null, pf + " is not a PCI device, so it has no SR-IOV") : pci(a, pf);
    }

    /** The PF at {@code a}; {@code ifname} is how it was named, when by interface. */
    private Pf pci(PciAddress a, String ifname) {
        PciFunction f;
        try {
            f = pci.function(a);
        } catch (PciException e) {
            return Pf.notFound(e.getMessage());
        }
        String netdev = ifname != null ? ifname : f.netdev();
        String name = netdev != null ? netdev : a.toString();
        if (f.sriov() == null) {
            return Pf.notSriov(netdev, a.toString(), name + (f.physfn() != null ? " is a VF of " + f.physfn() + ", not a PF"
                    : " has no SR-IOV capability"));
        }
        return Pf.sriov(netdev, a.toString(), f.sriov().vfs().size(), f.sriov().vfs().size());
    }

    @Override
    public Vf vf(String bdf) {
        PciAddress a = PciAddress.parse(bdf);
        PciFunction f;
        try {
            f = pci.exists(a) ? pci.function(a) : null;
        } catch (PciException e) {
            f = null;
        }
        if (f == null || f.physfn() == null) {
            return new Vf(VfStatus.NOT_FOUND, a.toString(), null, (f == null ? "no PCI function " : "no SR-IOV VF at ") + a);
        }
        return new Vf(VfStatus.FREE, a.toString(), pci(f.physfn(), null), null);
    }
}

package dev.jvmm.vmm.nic;

import dev.jvmm.sriov.PoolState;
import dev.jvmm.sriov.SriovException;
import dev.jvmm.sriov.VfPool;
import dev.jvmm.sys.pci.PciAddress;

/**
 * The {@link PoolView} launch plans with: the PFs and VFs as sysfs shows them ({@link SysfsPool}), with the free
 * VFs counted by sriov-manager's {@link VfPool}, which knows the leases of running VMs and the VFs some process
 * holds through VFIO. A stale lease (its process is gone) counts as free: taking the VF releases it first.
 */
public final class LeasedPool implements PoolView {
    private final SysfsPool sysfs;
    private final VfPool pool;

    public LeasedPool(SysfsPool sysfs, VfPool pool) {
        this.sysfs = sysfs;
        this.pool = pool;
    }

    @Override
    public Pf pf(String pf) {
        Pf p = sysfs.pf(pf);
        if (p.status() != PfStatus.SRIOV || p.vfs() == 0) {
            return p;
        }
        PoolState s = state(p.bdf());
        return s == null ? p : Pf.sriov(p.netdev(), p.bdf(), p.vfs(), s.available().size());
    }

    @Override
    public Vf vf(String bdf) {
        Vf v = sysfs.vf(bdf);
        if (v.status() != VfStatus.FREE) {
            return v;
        }
        PoolState s = state(v.pf().bdf());
        PoolState.Slot slot = s == null ? null : s.slot(PciAddress.parse(bdf));
        if (slot == null || slot.available()) {
            return v;
        }
        String who = slot.lease() != null ? "leased by pid " + slot.lease().pid() + " (" + slot.lease().holder() + ")"
                : "held through VFIO by " + slot.users().stream().map(Object::toString)
                        .collect(java.util.stream.Collectors.joining(", "));
        return new Vf(VfStatus.LEASED, v.bdf(), v.pf(), v.bdf() + " is " + who);
    }

    private PoolState state(String pfBdf) {
        try {
            return pool.state(pfBdf);
        } catch (SriovException e) {
            return null; // the sysfs view stands; taking the VF reports the pool's own error
        }
    }
}

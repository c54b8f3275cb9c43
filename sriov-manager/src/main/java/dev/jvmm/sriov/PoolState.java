package dev.jvmm.sriov;

import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.VfioUsers;
import java.util.List;

/**
 * A VF pool (the VFs of one PF) as {@link VfPool#state} found it: each VF with its driver and whether it is free,
 * leased by a running process, leased by a process that is gone (stale), or held through VFIO without a lease.
 *
 * @param netdev  the PF's network interface; null for a PF that is not a NIC (or no longer exists)
 * @param driver  the PF's driver; null when none is bound (or the PF no longer exists)
 * @param vfs     the PF's VFs by index, then leases whose VF no longer exists ({@link Slot#exists} false)
 */
public record PoolState(PciAddress pf, String netdev, String driver, int totalVfs, int numVfs, List<Slot> vfs) {

    public enum Status {
        /** No lease, and no process holds it through VFIO: {@link VfPool#acquire} may take it. */
        FREE,
        /** Leased by a process that is running. */
        LEASED,
        /** Leased by a process that is gone (or whose pid another process now has): {@link VfPool#reclaimStale} frees it. */
        STALE,
        /** No lease, but a process holds it open through VFIO ({@code /dev/vfio/N}): in use outside the pool. */
        IN_USE
    }

    /**
     * One VF of the pool.
     *
     * @param driver the driver bound now; null when none is (or the VF no longer exists)
     * @param exists false for a lease whose VF is gone (the VFs were destroyed, or recreated fewer)
     * @param lease  its lease; null when it has none
     * @param stale  why the lease is stale; null when it is live or there is none
     * @param users  the processes holding it through VFIO (the holder's VM, for a leased VF in use)
     */
    public record Slot(int index, PciAddress bdf, String driver, boolean exists, Status status, LeaseRecord lease,
                       String stale, List<VfioUsers.User> users) {
        public Slot {
            users = List.copyOf(users);
        }

        /** Whether {@link VfPool#acquire} can take it: free, or stale with nobody holding it (acquire reclaims it first). */
        public boolean available() {
            return exists && users.isEmpty() && (status == Status.FREE || status == Status.STALE);
        }
    }

    public PoolState {
        vfs = List.copyOf(vfs);
    }

    /** The VFs with {@code status}. */
    public List<Slot> with(Status status) {
        return vfs.stream().filter(s -> s.status() == status).toList();
    }

    /** The VFs {@link VfPool#acquire} can take: free ones, and stale ones that it reclaims first. */
    public List<Slot> available() {
        return vfs.stream().filter(Slot::available).toList();
    }

    /** The slot of VF {@code bdf}, or null. */
    public Slot slot(PciAddress bdf) {
        return vfs.stream().filter(s -> s.bdf().equals(bdf)).findFirst().orElse(null);
    }
}

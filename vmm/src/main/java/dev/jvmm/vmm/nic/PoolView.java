package dev.jvmm.vmm.nic;

/**
 * What {@link NicPlanner} needs to know about SR-IOV PFs and their VFs: which exist and how many VFs are free (not
 * leased to a running VM). sriov-manager's VF pool is adapted to this; {@link SysfsPool} reads sysfs alone. Only
 * read, never changed: the plan takes no lease (launch does, after printing it).
 */
public interface PoolView {
    /** The PF named by a NIC's {@code pf=}: a network interface name or a canonical PCI address. Never null. */
    Pf pf(String pf);

    /** The VF at a canonical PCI address ({@code vf=}). Never null. */
    Vf vf(String bdf);

    /** How a {@code pf=} name resolved. */
    enum PfStatus {
        /** An SR-IOV PF: VFs can be taken from it. */
        SRIOV,
        /** A network interface or PCI function without SR-IOV: a macvtap can sit on it, no VF comes from it. */
        NOT_SRIOV,
        /** Neither a network interface nor a PCI function. */
        NOT_FOUND
    }

    /**
     * One PF as the pool sees it.
     *
     * @param status  what {@code pf=} named
     * @param netdev  its network interface (what a macvtap sits on, what VF settings go through), or null: none
     *                (not found, or a PF with no network driver bound)
     * @param bdf     its PCI address, or null: not found, or an interface not backed by PCI (a bridge, a veth)
     * @param vfs     the VFs it has now ({@code sriov_numvfs}); 0 unless SRIOV
     * @param freeVfs how many of them no VM holds a lease on
     * @param detail  for NOT_SRIOV and NOT_FOUND, why, as a phrase that names it ({@code no network interface or
     *                PCI function enp9s0}); null otherwise
     */
    record Pf(PfStatus status, String netdev, String bdf, int vfs, int freeVfs, String detail) {
        public static Pf sriov(String netdev, String bdf, int vfs, int freeVfs) {
            return new Pf(PfStatus.SRIOV, netdev, bdf, vfs, freeVfs, null);
        }

        public static Pf notSriov(String netdev, String bdf, String detail) {
            return new Pf(PfStatus.NOT_SRIOV, netdev, bdf, 0, 0, detail);
        }

        public static Pf notFound(String detail) {
            return new Pf(PfStatus.NOT_FOUND, null, null, 0, 0, detail);
        }

        /** How messages name it: its interface, else its PCI address. */
        public String name() {
            return netdev != null ? netdev : bdf;
        }
    }

    /** How a {@code vf=} address resolved. */
    enum VfStatus {
        /** An SR-IOV VF no VM holds a lease on. */
        FREE,
        /** An SR-IOV VF leased to a VM. */
        LEASED,
        /** Not a VF: no such PCI function, or one that is no SR-IOV VF. */
        NOT_FOUND
    }

    /**
     * One VF as the pool sees it.
     *
     * @param status what {@code vf=} named
     * @param bdf    its canonical PCI address
     * @param pf     its PF (null when NOT_FOUND)
     * @param detail for LEASED and NOT_FOUND, why, as a phrase that names it ({@code 0000:01:10.2 is leased by
     *               pid 4242}); null when FREE
     */
    record Vf(VfStatus status, String bdf, Pf pf, String detail) {
    }
}

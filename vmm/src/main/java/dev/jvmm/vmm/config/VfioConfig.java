package dev.jvmm.vmm.config;

/**
 * A host PCI function passed through with VFIO ({@code --device vfio=0000:01:10.0[,iommu=auto|type1|iommufd]
 * [,msix=off]}, or {@code "devices"} in the config file). The function must be bound to vfio-pci and its IOMMU
 * group viable; see docs/vfio.md.
 *
 * @param bdf   the canonical PCI address, e.g. {@code 0000:01:10.0}
 * @param iommu which kernel interface holds the VM's IOMMU address space
 * @param msix  false hides the device's MSI-X capability from the guest (its driver then uses MSI or INTx)
 * @param nic   the {@code --nic} this VF is, or null for a plain {@code --device}
 */
public record VfioConfig(String bdf, Iommu iommu, boolean msix, String nic) {
    /** The keys of a {@code --device} value; a bare value is the PCI address. */
    public static final java.util.List<String> KEYS = java.util.List.of("vfio", "iommu", "msix");

    /**
     * The IOMMU interface: {@code type1} (a VFIO container and groups), {@code iommufd} (an IOAS on
     * {@code /dev/iommu} and the device's vfio cdev), or {@code auto}: iommufd where the host has it, else type1.
     */
    public enum Iommu { AUTO, TYPE1, IOMMUFD }

    public VfioConfig(String bdf, Iommu iommu, boolean msix) {
        this(bdf, iommu, msix, null);
    }

    public VfioConfig(String bdf) {
        this(bdf, Iommu.AUTO, true);
    }

    public VfioConfig(String bdf, Iommu iommu) {
        this(bdf, iommu, true);
    }
}

package dev.jvmm.vmm.config;

/**
 * A host PCI function passed through with VFIO ({@code --device vfio=0000:01:10.0}, or {@code "devices"} in the
 * config file). The function must be bound to vfio-pci and its IOMMU group viable; see docs/vfio.md.
 *
 * @param bdf the canonical PCI address, e.g. {@code 0000:01:10.0}
 */
public record VfioConfig(String bdf) {
    /** The keys of a {@code --device} value; a bare value is the PCI address. */
    public static final java.util.List<String> KEYS = java.util.List.of("vfio");
}

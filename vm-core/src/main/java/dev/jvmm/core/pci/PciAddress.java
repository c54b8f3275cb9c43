package dev.jvmm.core.pci;

/** A PCI function address: segment, bus, device (slot) and function, printed as {@code 0000:00:02.0}. */
public record PciAddress(int segment, int bus, int device, int function) {
    public PciAddress {
        if (segment < 0 || segment > 0xffff || bus < 0 || bus > 255 || device < 0 || device > 31 || function < 0
                || function > 7) {
            throw new IllegalArgumentException(String.format("invalid PCI address %04x:%02x:%02x.%x", segment, bus,
                    device, function));
        }
    }

    /** The 16-bit routing id (bus &lt;&lt; 8 | device &lt;&lt; 3 | function), as used by MSI and IOMMUs. */
    public int bdf() {
        return bus << 8 | device << 3 | function;
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x:%02x.%x", segment, bus, device, function);
    }
}

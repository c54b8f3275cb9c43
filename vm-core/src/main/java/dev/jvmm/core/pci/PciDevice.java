package dev.jvmm.core.pci;

import java.util.List;

/**
 * A PCI function as the root bus sees it: config space accesses (offset 0..4095, size 1/2/4) and its declared
 * BARs. Implemented by {@link PciFunction} for emulated devices; a passthrough device implements it by
 * virtualising the physical function's config space.
 */
public interface PciDevice {
    /** A short name for logs and errors, e.g. {@code host-bridge} or {@code virtio-blk-0}. */
    String name();

    int configRead(int offset, int size);

    void configWrite(int offset, int size, int value);

    /** The BARs this function decodes (empty for none). */
    List<PciBar> bars();

    /** The legacy interrupt pin: 0 none, 1..4 INTA#..INTD#. */
    default int interruptPin() {
        return configRead(PciConfigSpace.INTERRUPT_PIN, 1);
    }
}

package dev.jvmm.core.pci;

/**
 * Told when a BAR's decoded address changes: the guest reprogrammed it, or enabled/disabled decoding through the
 * command register. The VMM moves the BAR's bus registration (or memory slot) accordingly. An address of -1
 * means "not decoded".
 */
@FunctionalInterface
public interface BarListener {
    void barMoved(PciFunction function, PciBar bar, long oldAddress, long newAddress);
}

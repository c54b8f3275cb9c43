package dev.jvmm.core.pci;

/**
 * The host bridge at 00:00.0 (class 06/00/00). Linux needs no driver for it; it anchors bus 0. IDs are Red Hat's
 * generic PCIe host bridge (1b36:0008), which guests treat as a plain bridge with no quirks.
 */
public final class PciHostBridge extends PciFunction {
    public static final int VENDOR_REDHAT = 0x1b36;
    public static final int DEVICE_PCIE_HOST = 0x0008;

    public PciHostBridge() {
        super("host-bridge", VENDOR_REDHAT, DEVICE_PCIE_HOST, 0x060000, 0, true);
        setSubsystem(VENDOR_REDHAT, 0x1100);
    }
}

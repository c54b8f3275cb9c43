package dev.jvmm.core.pci;

import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.state.StateCodec;
import java.io.DataOutput;
import java.io.IOException;

/**
 * The host bridge at 00:00.0 (class 06/00/00). Linux needs no driver for it; it anchors bus 0. IDs are Red Hat's
 * generic PCIe host bridge (1b36:0008), which guests treat as a plain bridge with no quirks.
 */
public final class PciHostBridge extends PciFunction implements Snapshottable {
    public static final int VENDOR_REDHAT = 0x1b36;
    public static final int DEVICE_PCIE_HOST = 0x0008;

    public PciHostBridge() {
        super("host-bridge", VENDOR_REDHAT, DEVICE_PCIE_HOST, 0x060000, 0, true);
        setSubsystem(VENDOR_REDHAT, 0x1100);
    }

    /** Its config space (the guest may have written its command register). */
    @Override
    public void saveState(DataOutput out) throws IOException {
        saveConfig(out);
    }

    @Override
    public void restoreState(StateCodec.Reader in) throws IOException {
        restoreConfig(in);
    }
}

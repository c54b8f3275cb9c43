package dev.jvmm.vfio;

import dev.jvmm.sys.vfio.uapi.VfioConstants;

/** {@code VFIO_DEVICE_GET_INFO}: flags ({@code VFIO_DEVICE_FLAGS_*}), number of regions and of irq indexes. */
public record VfioDeviceInfo(int flags, int numRegions, int numIrqs) {
    public boolean isPci() {
        return (flags & VfioConstants.VFIO_DEVICE_FLAGS_PCI) != 0;
    }

    /** Whether {@code VFIO_DEVICE_RESET} is supported (function-level reset or an equivalent). */
    public boolean canReset() {
        return (flags & VfioConstants.VFIO_DEVICE_FLAGS_RESET) != 0;
    }

    @Override
    public String toString() {
        return "flags=" + (isPci() ? "PCI" : "") + (canReset() ? (isPci() ? "|" : "") + "RESET" : "")
                + " regions=" + numRegions + " irqs=" + numIrqs;
    }
}

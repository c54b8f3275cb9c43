package dev.jvmm.vfio;

import dev.jvmm.sys.vfio.uapi.VfioConstants;

/** {@code VFIO_DEVICE_GET_IRQ_INFO}: how many vectors an irq index has and its flags ({@code VFIO_IRQ_INFO_*}). */
public record VfioIrqInfo(int index, int flags, int count) {
    public boolean eventfd() {
        return (flags & VfioConstants.VFIO_IRQ_INFO_EVENTFD) != 0;
    }

    public boolean maskable() {
        return (flags & VfioConstants.VFIO_IRQ_INFO_MASKABLE) != 0;
    }

    public boolean automasked() {
        return (flags & VfioConstants.VFIO_IRQ_INFO_AUTOMASKED) != 0;
    }

    @Override
    public String toString() {
        return "irq " + index + " count=" + count + " flags=0x" + Integer.toHexString(flags);
    }
}

package dev.jvmm.vfio;

import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.vfio.uapi.VfioConstants;

/**
 * What a passed-through PCI function ({@link dev.jvmm.vfio.pci.VfioPciDevice}) needs of its VFIO device: device,
 * region and irq info, region access (config space, BARs, ROM), BAR mmaps, {@code VFIO_DEVICE_SET_IRQS},
 * {@code VFIO_DEVICE_RESET} and closing. {@link VfioDevice}, over a real device fd, is the implementation; tests
 * hand the function a fake one (a device described by bytes, recording what reaches it).
 *
 * <p>Every method may fail with a {@link VfioException} naming the device and the operation, as {@link VfioDevice}
 * documents; nothing else is expected of an implementation.
 */
public interface VfioDeviceIo extends AutoCloseable {
    /** The device's PCI address ({@code 0000:01:00.0}), for messages. */
    String bdf();

    /** {@code VFIO_DEVICE_GET_INFO}. */
    VfioDeviceInfo info();

    /** {@code VFIO_DEVICE_GET_REGION_INFO} of region {@code index}; a region the device lacks has size 0. */
    VfioRegionInfo region(int index);

    /** {@code VFIO_DEVICE_GET_IRQ_INFO} of irq index {@code index}. */
    VfioIrqInfo irq(int index);

    /** {@code VFIO_DEVICE_RESET}; fails UNSUPPORTED where {@link VfioDeviceInfo#canReset()} is false. */
    void reset();

    /** Reads {@code size} (1, 2, 4 or 8) bytes at {@code offset} within region {@code index}, little-endian. */
    long read(int index, long offset, int size);

    /** Writes {@code size} (1, 2, 4 or 8) bytes at {@code offset} within region {@code index}, little-endian. */
    void write(int index, long offset, int size, long value);

    /** Reads {@code size} (1, 2 or 4) bytes of PCI config space at {@code offset}, through the config region. */
    default int readConfig(int offset, int size) {
        return (int) read(VfioConstants.VFIO_PCI_CONFIG_REGION_INDEX, offset, size);
    }

    /** Writes {@code size} (1, 2 or 4) bytes of PCI config space; vfio-pci virtualises what the host must keep. */
    default void writeConfig(int offset, int size, int value) {
        write(VfioConstants.VFIO_PCI_CONFIG_REGION_INDEX, offset, size, value);
    }

    /**
     * mmap of {@code length} bytes at {@code offset} (page aligned) of region {@code index}, which must be mappable;
     * the caller owns the mapping.
     */
    Mmap mmapRegion(int index, long offset, long length);

    /**
     * {@code VFIO_DEVICE_SET_IRQS} {@code DATA_EVENTFD | ACTION_TRIGGER}: vectors {@code start..start+n-1} of irq
     * index {@code index} signal the given eventfds (for MSI/MSI-X this enables that many vectors on the device).
     */
    void setIrqEventfds(int index, int start, int... eventfds);

    /** {@code VFIO_DEVICE_SET_IRQS} {@code DATA_EVENTFD | ACTION_UNMASK}: a signal of {@code eventfd} unmasks the vector. */
    void setIrqUnmaskEventfd(int index, int vector, int eventfd);

    /** {@code VFIO_DEVICE_SET_IRQS} {@code DATA_NONE | ACTION_TRIGGER} with count 0: turns irq index {@code index} off. */
    void disableIrqs(int index);

    /** Closes the device (idempotent). */
    @Override
    void close();
}

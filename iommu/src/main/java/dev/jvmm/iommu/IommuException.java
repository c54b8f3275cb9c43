package dev.jvmm.iommu;

import dev.jvmm.sys.pci.PciException;
import java.util.function.Supplier;

/** Every failure of the IOMMU layer: a {@link Reason} and a message that says what was wrong and what to do. */
public class IommuException extends RuntimeException {
    /** Why it failed. */
    public enum Reason {
        /** Bad argument: a malformed PCI address, an unaligned or empty DMA range. */
        INVALID_ARGUMENT,
        /** The PCI device named does not exist in sysfs. */
        DEVICE_NOT_FOUND,
        /** The device has no {@code iommu_group}: no IOMMU is enabled (BIOS VT-d/AMD-Vi, kernel command line). */
        NO_IOMMU_GROUP,
        /** {@code /dev/vfio/vfio} is missing: the vfio modules are not loaded. */
        VFIO_MISSING,
        /** The device is not bound to vfio-pci (the message names its driver and how to rebind it). */
        NOT_BOUND_TO_VFIO,
        /** A device of the group is bound to a host driver, so the group cannot be given to userspace. */
        GROUP_NOT_VIABLE,
        /** Another process (or another container of this one) has the group open: VFIO lets one user hold it. */
        GROUP_BUSY,
        /** The kernel lacks the VFIO API version or IOMMU type jvmm needs. */
        UNSUPPORTED,
        /** VFIO_IOMMU_MAP_DMA failed with ENOMEM: pinning the memory exceeds RLIMIT_MEMLOCK. */
        MEMLOCK,
        /** A VFIO ioctl failed for another reason (the cause names it and errno). */
        IOCTL
    }

    private final Reason reason;

    public IommuException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public IommuException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    /**
     * A failure of the host PCI layer ({@code dev.jvmm.sys.pci}: IOMMU groups, viability, addresses) as the IOMMU
     * layer's own: same message, reason mapped. Translated rather than wrapped, so that the message is printed once;
     * the original's cause is chained and its stack trace kept.
     */
    public static IommuException of(PciException e) {
        Reason r = switch (e.reason()) {
            case BAD_ADDRESS -> Reason.INVALID_ARGUMENT;
            case DEVICE_NOT_FOUND -> Reason.DEVICE_NOT_FOUND;
            case NO_IOMMU_GROUP -> Reason.NO_IOMMU_GROUP;
            case NOT_BOUND_TO_VFIO -> Reason.NOT_BOUND_TO_VFIO;
            case GROUP_NOT_VIABLE -> Reason.GROUP_NOT_VIABLE;
            case SYSFS -> Reason.DEVICE_NOT_FOUND; // the device's sysfs entry could not be read
            case IN_USE -> Reason.GROUP_BUSY;
            // not thrown by the group and address reads the IOMMU layer makes; mapped for completeness
            case DRIVER -> Reason.NOT_BOUND_TO_VFIO;
            case TIMEOUT -> Reason.IOCTL;
        };
        return e.translatedTo(new IommuException(r, e.getMessage(), e.getCause()));
    }

    /** Runs {@code f}, a call into {@code dev.jvmm.sys.pci}, with its failures as {@link #of IommuExceptions}. */
    public static <T> T mapping(Supplier<T> f) {
        return PciException.translating(f, IommuException::of);
    }
}

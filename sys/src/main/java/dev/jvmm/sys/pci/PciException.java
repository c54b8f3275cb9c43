package dev.jvmm.sys.pci;

import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Every failure of the host PCI layer: a {@link Reason} and a message that names the device, what is in the way
 * and the command that fixes it. Callers in other modules map the reason to their own exception type.
 */
public class PciException extends RuntimeException {
    /** Why it failed. */
    public enum Reason {
        /** The text given is not a PCI address. */
        BAD_ADDRESS,
        /** The PCI device named does not exist in sysfs. */
        DEVICE_NOT_FOUND,
        /** The device has no {@code iommu_group}: no IOMMU is enabled (firmware VT-d/AMD-Vi, kernel command line). */
        NO_IOMMU_GROUP,
        /** The device is not bound to vfio-pci (the message names its driver and how to rebind it). */
        NOT_BOUND_TO_VFIO,
        /** A device of the group is bound to a host driver, so the group cannot be given to userspace. */
        GROUP_NOT_VIABLE,
        /** A process holds the device's VFIO node open, so it cannot be unbound (the message names the pids). */
        IN_USE,
        /** A driver is missing or did not bind, or restoring a binding failed. */
        DRIVER,
        /** A sysfs write did not finish in time (a driver's probe or sriov_configure still busy). */
        TIMEOUT,
        /** A sysfs or procfs file, or a bind record, could not be read or written for another reason. */
        SYSFS
    }

    private final Reason reason;

    public PciException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public PciException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    /**
     * {@code x}, another module's exception made from this one (same message, this one's cause), given this one's
     * stack trace: a translation rather than a wrapper, so that the message is printed once.
     */
    public <X extends RuntimeException> X translatedTo(X x) {
        x.setStackTrace(getStackTrace());
        return x;
    }

    /** Runs {@code f}, a call into this package, with a PciException turned into the caller's own by {@code as}. */
    public static <T> T translating(Supplier<T> f, Function<PciException, ? extends RuntimeException> as) {
        try {
            return f.get();
        } catch (PciException e) {
            throw as.apply(e);
        }
    }
}

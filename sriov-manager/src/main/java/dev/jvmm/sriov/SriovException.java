package dev.jvmm.sriov;

import dev.jvmm.sys.pci.PciException;
import java.util.function.Supplier;

/** Every failure of the SR-IOV manager: a {@link Reason} and a message that says what was wrong and what to do. */
public class SriovException extends RuntimeException {
    /** Why it failed; the CLI maps these to exit codes and advice. */
    public enum Reason {
        /** A PF, VF, BDF, netdev or driver named by the user does not exist. */
        NOT_FOUND,
        /** The device has no SR-IOV capability, or its driver does not implement sriov_configure. */
        NOT_SRIOV,
        /** Bad user input: CLI values, spec file contents. */
        INVALID_ARGUMENT,
        /** EBUSY: VFs in use, or sriov_numvfs changed without going through 0. */
        BUSY,
        /** ENOMEM: not enough bus/BAR space for the VFs (BIOS SR-IOV support, pci=realloc). */
        NO_RESOURCES,
        /** VFs, their physfn links, drivers or netdevs did not appear in time, or a sysfs write hung. */
        TIMEOUT,
        /** A sysfs read or write failed for another reason. */
        SYSFS,
        /** rtnetlink refused a VF attribute (the message names the attribute). */
        NETLINK,
        /** Driver binding failed or a driver is missing. */
        DRIVER,
        /** The PF is not a network device, so VF network settings cannot apply. */
        NOT_A_NIC,
        /** The apply record (state file) is missing, unreadable or does not match the PF. */
        STATE,
        /** Apply failed and restoring the previous state failed too: the host needs attention. */
        ROLLBACK_FAILED,
        /** A VF pool's PF has no VFs yet ({@code sriov_numvfs} is 0): create them first. */
        NO_VFS,
        /** Every VF of a pool is leased or held through VFIO: nothing to take (a launch in auto mode falls back). */
        NO_FREE_VF,
        /** The VF asked for is leased by a live process, or held open through VFIO by a process without a lease. */
        IN_USE,
        /** A lease file or the pool's lock cannot be read, written or taken. */
        LEASE
    }

    private final Reason reason;

    public SriovException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public SriovException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    /**
     * A failure of the host PCI layer ({@code dev.jvmm.sys.pci}: sysfs, addresses, driver binding) as the SR-IOV
     * manager's own: same message, reason mapped. Translated rather than wrapped, so that the message is printed
     * once; the original's cause is chained and its stack trace kept.
     */
    public static SriovException of(PciException e) {
        Reason r = switch (e.reason()) {
            case BAD_ADDRESS -> Reason.INVALID_ARGUMENT;
            case DEVICE_NOT_FOUND -> Reason.NOT_FOUND;
            case NO_IOMMU_GROUP, NOT_BOUND_TO_VFIO, GROUP_NOT_VIABLE, IN_USE, DRIVER -> Reason.DRIVER;
            case TIMEOUT -> Reason.TIMEOUT;
            case SYSFS -> Reason.SYSFS;
        };
        return e.translatedTo(new SriovException(r, e.getMessage(), e.getCause()));
    }

    /** Runs {@code f}, a call into {@code dev.jvmm.sys.pci}, with its failures as {@link #of SriovExceptions}. */
    public static <T> T mapping(Supplier<T> f) {
        return PciException.translating(f, SriovException::of);
    }
}

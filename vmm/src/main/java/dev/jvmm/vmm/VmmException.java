package dev.jvmm.vmm;

/** The one exception type of the vmm module. */
public class VmmException extends RuntimeException {
    /** What went wrong. */
    public enum Reason {
        /** The user's configuration (CLI or config file) is invalid; the message names the field. */
        CONFIG,
        /** The kernel or initrd image cannot be used (not a bzImage/ELF, unsupported boot protocol, too big). */
        IMAGE,
        /** The host cannot run the VM (no /dev/kvm, a missing KVM capability, an ioctl failure). */
        HOST,
        /** The guest crashed: kernel panic, triple fault, KVM internal error or failed VM entry. */
        GUEST_CRASH,
        /** What a request names does not exist (a device id, a PCI function). */
        NOT_FOUND,
        /** The request clashes with the VM's state: a device already attached, a VM already paused. */
        CONFLICT,
        /** The guest did not do its part in time (it did not eject a device it was asked to). */
        TIMEOUT,
        /** A bug or an unexpected state in jvmm. */
        INTERNAL
    }

    private final Reason reason;

    public VmmException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public VmmException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}

package dev.jvmm.probe;

/** The one exception type of the host probe. */
public final class ProbeException extends RuntimeException {
    /** Why the probe failed. */
    public enum Reason {
        /** A user-supplied value (size, use case, root) is not valid. */
        BAD_ARGUMENT,
        /** A host file that must be readable could not be read. */
        HOST_READ,
        /** Talking to /dev/kvm failed in a way that is not a finding about the host. */
        KVM,
        /** Writing the report failed. */
        OUTPUT
    }

    private final Reason reason;

    public ProbeException(Reason reason, String message) {
        this(reason, message, null);
    }

    public ProbeException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}

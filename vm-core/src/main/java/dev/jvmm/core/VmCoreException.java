package dev.jvmm.core;

/** The one exception type of vm-core. */
public class VmCoreException extends RuntimeException {
    /** What went wrong. */
    public enum Reason {
        /** A guest-physical range that is not (entirely) backed by guest RAM. */
        OUT_OF_BOUNDS,
        /** Two regions, slots or bus ranges overlap. */
        OVERLAP,
        /** A malformed request from the VMM itself, such as a zero-length region. */
        INVALID,
        /** A file could not be read, written or mapped, such as a guest RAM dump. */
        IO
    }

    private final Reason reason;

    public VmCoreException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public VmCoreException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}

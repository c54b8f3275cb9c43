package dev.jvmm.virtio;

/** A VMM-side failure of a virtio device (its backend could not be opened or configured). */
public class VirtioException extends RuntimeException {
    public enum Reason {
        /** The disk image, block device or TAP could not be opened or queried. */
        BACKEND,
        /** A device option is invalid (bad size, unknown cache mode, too many queues). */
        CONFIG,
        /**
         * A disk image is malformed or hostile (offsets past its end, overlapping metadata, a backing loop) or uses a
         * feature jvmm does not implement (encryption, external data file, extended L2, zstd).
         */
        IMAGE
    }

    private final Reason reason;

    public VirtioException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public VirtioException(Reason reason, String message) {
        this(reason, message, null);
    }

    public Reason reason() {
        return reason;
    }
}

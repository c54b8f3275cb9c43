package dev.jvmm.virtio;

/**
 * A driver broke the virtio protocol (a malformed descriptor chain, an index out of range). This is the
 * guest's error, not the VMM's: the device answers it with NEEDS_RESET (or an error status) and the VMM
 * keeps running. Thrown only on the error path, so the hot path allocates nothing.
 */
public class GuestProtocolException extends RuntimeException {
    /** What the driver got wrong. */
    public enum Reason {
        /** The chain revisits a descriptor, or is longer than the queue. */
        DESCRIPTOR_LOOP,
        /** A descriptor or ring address is not entirely inside guest RAM. */
        OUT_OF_BOUNDS,
        /** A descriptor has length 0. */
        ZERO_LENGTH,
        /** More descriptors than the device accepts (SEG_MAX) or than fit. */
        TOO_MANY_DESCRIPTORS,
        /** A device-readable descriptor after a device-writable one, or a buffer in the wrong direction for the request. */
        WRONG_DIRECTION,
        /** An indirect table that is misaligned in size, nested, empty or combined with NEXT. */
        BAD_INDIRECT,
        /** A head or next index outside the queue, or an avail index that ran ahead by more than the queue size. */
        BAD_INDEX,
        /** A request the device cannot parse (short header, bad sizes). */
        MALFORMED_REQUEST
    }

    private final Reason reason;

    public GuestProtocolException(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}

package dev.jvmm.irq;

/** The one exception type of irq-routing. */
public class IrqRoutingException extends RuntimeException {
    /** What went wrong. */
    public enum Reason {
        /** No GSI is left in the routable range. */
        GSI_EXHAUSTED,
        /** A GSI that is not allocated, or is legacy, was freed or routed. */
        INVALID_GSI,
        /** The kernel refused a registration (the cause is an ErrnoException). */
        KERNEL
    }

    private final Reason reason;

    public IrqRoutingException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public IrqRoutingException(Reason reason, String message) {
        this(reason, message, null);
    }

    public Reason reason() {
        return reason;
    }
}

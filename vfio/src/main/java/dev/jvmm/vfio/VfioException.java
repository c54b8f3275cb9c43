package dev.jvmm.vfio;

/** Every failure of the VFIO device layer: a {@link Reason} and a message naming the device and the operation. */
public class VfioException extends RuntimeException {
    /** Why it failed. */
    public enum Reason {
        /** Bad argument: a region or irq index out of range, an access outside a region, a bad size. */
        INVALID_ARGUMENT,
        /** The device does not offer what was asked: mmap of a region without the MMAP flag, reset without RESET. */
        UNSUPPORTED,
        /** A VFIO device ioctl, pread/pwrite or mmap failed (the cause names it and errno). */
        IOCTL,
        /** The device fd is closed. */
        CLOSED
    }

    private final Reason reason;

    public VfioException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public VfioException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}

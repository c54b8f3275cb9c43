package dev.jvmm.lab;

/** The one failure type of the lab module. The message names what was wrong and, where there is one, the fix. */
public final class LabException extends RuntimeException {

    /** Why the lab failed. */
    public enum Reason {
        /** A host package or tool is missing (QEMU, busybox-static, gcc, ...); the message names the fixing command. */
        MISSING_PREREQUISITE,
        /** Setting up the host (apt) failed. */
        SETUP_FAILED,
        /** Fetching, extracting or packing the guest kit failed. */
        KIT_BUILD_FAILED,
        /** The emulated host did not come up. */
        BOOT_FAILED,
        /** Something did not finish in time. */
        TIMEOUT,
        /** The emulated host went away while it was in use. */
        L1_DIED,
        /** Reading or writing the run directory failed. */
        IO,
        /** A lab setting (an environment variable) is not valid. */
        CONFIG
    }

    private final Reason reason;

    public LabException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public LabException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}

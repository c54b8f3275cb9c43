package dev.jvmm.vmm.cli;

/** A failure that maps to a specific documented exit code. */
public class ExitCodeException extends RuntimeException {
    private final int exitCode;

    public ExitCodeException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}

package dev.jvmm.vmm.api;

/**
 * An API request that cannot be carried out: the HTTP status to answer with, the request field at fault (null when
 * none is), and a message for a person. {@link ApiServer} answers {@code {"error": message, "field": field}}.
 */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String field;

    public ApiException(int status, String field, String message) {
        super(message);
        this.status = status;
        this.field = field;
    }

    public ApiException(int status, String field, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.field = field;
    }

    public int status() {
        return status;
    }

    /** The request field at fault, or null. */
    public String field() {
        return field;
    }
}

package dev.jvmm.sys.state;

import java.io.IOException;

/**
 * A saved-state stream (a vCPU, the VM, a device, a snapshot) that jvmm refuses to read: not such a state, a format version it does
 * not know, a length or count out of bounds, or input that ends early. The message names the state and the field,
 * for example {@code VcpuState field xsave: length 2147483647 is above the limit 65536}.
 */
public final class StateFormatException extends IOException {
    private static final long serialVersionUID = 1L;
    private final String field;

    public StateFormatException(String state, String field, String problem, Throwable cause) {
        super(state + " field " + field + ": " + problem, cause);
        this.field = field;
    }

    /** The field being read, for example {@code xsave} or {@code msrs[12].value}. */
    public String field() {
        return field;
    }
}

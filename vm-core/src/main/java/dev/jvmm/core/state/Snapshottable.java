package dev.jvmm.core.state;

import dev.jvmm.sys.state.StateCodec;
import java.io.DataOutput;
import java.io.IOException;

/**
 * A device whose guest-visible state a snapshot or a migration carries. {@link #saveState} runs with the vCPUs out
 * of KVM_RUN and the device's own threads stopped; {@link #restoreState} runs on a device freshly built from the
 * same configuration, before any vCPU runs, and must accept exactly what {@code saveState} wrote. The input may be
 * hostile (a migration stream): every value is checked before use, and anything out of range is refused with a
 * {@link dev.jvmm.sys.state.StateFormatException} naming the field, never an unchecked exception, and never a
 * half-restored device that the VMM then runs (the caller discards the VM on any error).
 */
public interface Snapshottable {
    /** Writes this device's state, starting with its own format version. */
    void saveState(DataOutput out) throws IOException;

    /** Reads what {@link #saveState} wrote and makes it this device's state. */
    void restoreState(StateCodec.Reader in) throws IOException;
}

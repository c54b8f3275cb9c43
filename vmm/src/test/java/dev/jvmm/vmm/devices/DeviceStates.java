package dev.jvmm.vmm.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.function.Supplier;

/** Saving and restoring a device's state in tests, and the checks every device's restore must pass on bad input. */
final class DeviceStates {
    /** The name the reader gives the state, which starts each error message. */
    static final String NAME = "test-device";

    private DeviceStates() {
    }

    static byte[] save(Snapshottable device) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            device.saveState(out);
        }
        return bytes.toByteArray();
    }

    static <T extends Snapshottable> T restore(T device, byte[] state) throws IOException {
        device.restoreState(new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(state)), NAME));
        return device;
    }

    /** Restoring {@code state} into {@code device} is refused; the error names the field {@code field}. */
    static StateFormatException refused(Snapshottable device, byte[] state, String field) {
        StateFormatException e = assertThrows(StateFormatException.class, () -> restore(device, state));
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().startsWith(NAME + " field " + field + ": "), e.getMessage());
        return e;
    }

    /** {@code state} with the big-endian int at {@code at} replaced by {@code value}. */
    static byte[] patchInt(byte[] state, int at, int value) {
        byte[] b = state.clone();
        ByteBuffer.wrap(b).putInt(at, value);
        return b;
    }

    /**
     * The checks common to every device: a saved state {@code state} (of {@code fresh} devices) is refused when cut
     * short anywhere (naming the field the cut falls in, and the magic or version for a cut in the header), with
     * another magic, or with another version; and no single byte changed anywhere gets anything but a
     * {@link StateFormatException} or a restore that succeeds.
     */
    static void refusesBadInput(byte[] state, int magic, Supplier<? extends Snapshottable> fresh) throws IOException {
        assertEquals(magic, ByteBuffer.wrap(state).getInt(0), "the state starts with the magic");
        assertEquals(1, ByteBuffer.wrap(state).getInt(4), "then version 1");
        restore(fresh.get(), state);
        for (int cut = 0; cut < state.length; cut++) {
            byte[] part = Arrays.copyOf(state, cut);
            StateFormatException e = assertThrows(StateFormatException.class, () -> restore(fresh.get(), part),
                    "cut at " + cut);
            assertTrue(e.getMessage().startsWith(NAME + " field " + e.field() + ": "), e.getMessage());
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
            if (cut < 8) {
                assertEquals(cut < 4 ? "magic" : "version", e.field(), "cut at " + cut);
            }
        }
        StateFormatException e = refused(fresh.get(), patchInt(state, 0, magic ^ 0x20), "magic");
        assertTrue(e.getMessage().contains(String.format("0x%08x", magic)), e.getMessage());
        refused(fresh.get(), patchInt(state, 0, 0x4A564350), "magic"); // a vCPU's state ("JVCP")
        refused(fresh.get(), patchInt(state, 4, 2), "version");
        refused(fresh.get(), patchInt(state, 4, 0), "version");
        for (int i = 0; i < state.length; i++) {
            for (int v : new int[] {0x00, 0x01, 0x7f, 0x80, 0xff}) {
                byte[] b = state.clone();
                b[i] = (byte) v;
                try {
                    restore(fresh.get(), b);
                } catch (StateFormatException expected) {
                    // refused, as it may be
                } catch (RuntimeException | IOException other) {
                    fail("byte " + i + " set to " + v + ": " + other, other);
                }
            }
        }
    }
}

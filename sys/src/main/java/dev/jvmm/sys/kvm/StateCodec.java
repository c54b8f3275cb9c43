package dev.jvmm.sys.kvm;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.EOFException;
import java.io.IOException;

/**
 * The pieces of the {@link VcpuState} / {@link VmState} encoding: a header (magic, format version), big-endian
 * integers as {@link DataOutput} writes them, and blobs as a 4-byte length followed by the bytes. The reader names
 * the field it is on in every error, and checks each length against its bound before allocating.
 */
final class StateCodec {
    private StateCodec() {
    }

    static void header(DataOutput out, int magic, int version) throws IOException {
        out.writeInt(magic);
        out.writeInt(version);
    }

    static void blob(DataOutput out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    /** Reads one state from a stream; {@code state} ("VcpuState") starts each error message. */
    static final class Reader {
        private final DataInput in;
        private final String state;

        Reader(DataInput in, String state) {
            this.in = in;
            this.state = state;
        }

        /** The magic number, then the format version, which must be {@code version}. */
        void header(int magic, int version) throws IOException {
            int m = readInt("magic");
            if (m != magic) {
                throw bad("magic", String.format("0x%08x is not a %s (0x%08x)", m, state, magic));
            }
            int v = readInt("version");
            if (v != version) {
                throw bad("version", "format version " + v + " is not supported (this jvmm reads version " + version
                        + ")");
            }
        }

        int readInt(String field) throws IOException {
            try {
                return in.readInt();
            } catch (EOFException e) {
                throw truncated(field, e);
            }
        }

        long readLong(String field) throws IOException {
            try {
                return in.readLong();
            } catch (EOFException e) {
                throw truncated(field, e);
            }
        }

        /** A count in [0, max]. */
        int count(String field, int max) throws IOException {
            int n = readInt(field);
            if (n < 0 || n > max) {
                throw bad(field, "count " + (n & 0xffffffffL) + " is outside 0.." + max);
            }
            return n;
        }

        /** A blob of exactly {@code size} bytes (a kernel struct). */
        byte[] blob(String field, int size) throws IOException {
            int n = readInt(field);
            if (n != size) {
                throw bad(field, "length " + (n & 0xffffffffL) + ", expected " + size);
            }
            return bytes(field, n);
        }

        /** A blob of {@code min} to {@code max} bytes. */
        byte[] blob(String field, int min, int max) throws IOException {
            int n = readInt(field);
            if (n < 0 || n > max) {
                throw bad(field, "length " + (n & 0xffffffffL) + " is above the limit " + max);
            }
            if (n < min) {
                throw bad(field, "length " + n + " is below the minimum " + min);
            }
            return bytes(field, n);
        }

        private byte[] bytes(String field, int n) throws IOException {
            byte[] b = new byte[n];
            try {
                in.readFully(b);
            } catch (EOFException e) {
                throw truncated(field, e);
            }
            return b;
        }

        StateFormatException bad(String field, String problem) {
            return new StateFormatException(state, field, problem, null);
        }

        private StateFormatException truncated(String field, EOFException e) {
            return new StateFormatException(state, field, "the input ends inside it (truncated)", e);
        }
    }
}

package dev.jvmm.sys.state;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The pieces every saved state is written in (vCPU and VM state, each device's state, the snapshot and migration
 * stream): a header (magic, format version), big-endian integers as {@link DataOutput} writes them, blobs as a
 * 4-byte length followed by the bytes, and strings as a blob of UTF-8. The {@link Reader} names the state and field
 * it is on in every error, and checks each length and count against its bound before allocating, so that a hostile
 * or corrupt stream is refused with a {@link StateFormatException} and costs no more than its bounds.
 */
public final class StateCodec {
    private StateCodec() {
    }

    public static void header(DataOutput out, int magic, int version) throws IOException {
        out.writeInt(magic);
        out.writeInt(version);
    }

    public static void blob(DataOutput out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    public static void string(DataOutput out, String s) throws IOException {
        blob(out, s.getBytes(StandardCharsets.UTF_8));
    }

    /** Reads one state from a stream; {@code state} ("VcpuState", "virtio-blk-0") starts each error message. */
    public static final class Reader {
        private final DataInput in;
        private final String state;

        public Reader(DataInput in, String state) {
            this.in = in;
            this.state = state;
        }

        /** The same stream, with errors naming {@code sub} ("virtio-net-0 queue 2"). */
        public Reader named(String sub) {
            return new Reader(in, sub);
        }

        /** The magic number, then the format version, which must be {@code version}. */
        public void header(int magic, int version) throws IOException {
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

        public int readInt(String field) throws IOException {
            try {
                return in.readInt();
            } catch (EOFException e) {
                throw truncated(field, e);
            }
        }

        public long readLong(String field) throws IOException {
            try {
                return in.readLong();
            } catch (EOFException e) {
                throw truncated(field, e);
            }
        }

        /** A 16-bit unsigned value. */
        public int readShort(String field) throws IOException {
            try {
                return in.readUnsignedShort();
            } catch (EOFException e) {
                throw truncated(field, e);
            }
        }

        /** An 8-bit unsigned value. */
        public int readByte(String field) throws IOException {
            try {
                return in.readUnsignedByte();
            } catch (EOFException e) {
                throw truncated(field, e);
            }
        }

        /** A boolean written as one byte 0 or 1; anything else is refused. */
        public boolean readBoolean(String field) throws IOException {
            int b = readByte(field);
            if (b > 1) {
                throw bad(field, "boolean byte " + b + " is neither 0 nor 1");
            }
            return b == 1;
        }

        /** An int in [min, max]. */
        public int readInt(String field, int min, int max) throws IOException {
            int n = readInt(field);
            if (n < min || n > max) {
                throw bad(field, n + " is outside " + min + ".." + max);
            }
            return n;
        }

        /** A count in [0, max]. */
        public int count(String field, int max) throws IOException {
            int n = readInt(field);
            if (n < 0 || n > max) {
                throw bad(field, "count " + (n & 0xffffffffL) + " is outside 0.." + max);
            }
            return n;
        }

        /** A blob of exactly {@code size} bytes (a kernel struct, a register file). */
        public byte[] blob(String field, int size) throws IOException {
            int n = readInt(field);
            if (n != size) {
                throw bad(field, "length " + (n & 0xffffffffL) + ", expected " + size);
            }
            return bytes(field, n);
        }

        /** A blob of {@code min} to {@code max} bytes. */
        public byte[] blob(String field, int min, int max) throws IOException {
            int n = readInt(field);
            if (n < 0 || n > max) {
                throw bad(field, "length " + (n & 0xffffffffL) + " is above the limit " + max);
            }
            if (n < min) {
                throw bad(field, "length " + n + " is below the minimum " + min);
            }
            return bytes(field, n);
        }

        /** A UTF-8 string of at most {@code maxBytes} bytes. */
        public String string(String field, int maxBytes) throws IOException {
            return new String(blob(field, 0, maxBytes), StandardCharsets.UTF_8);
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

        /** An error about {@code field} of this state. */
        public StateFormatException bad(String field, String problem) {
            return new StateFormatException(state, field, problem, null);
        }

        private StateFormatException truncated(String field, EOFException e) {
            return new StateFormatException(state, field, "the input ends inside it (truncated)", e);
        }
    }
}

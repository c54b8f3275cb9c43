package dev.jvmm.sys.kvm;

import dev.jvmm.sys.Fd;
import dev.jvmm.sys.NativeBuffer;

/**
 * Moves a fixed-size kernel struct between an ioctl and a {@code byte[]}: state KVM hands out and takes back
 * whole (LAPIC page, XCRs, debug registers, vCPU events, PIT), which jvmm stores without looking inside.
 */
final class Blobs {
    private Blobs() {
    }

    /** An ioctl that fills a {@code size}-byte struct, the bytes copied out. */
    static byte[] get(Fd fd, String op, long request, int size, String context) {
        try (NativeBuffer b = new NativeBuffer(size)) {
            fd.ioctl(op, request, b.address(), context);
            byte[] out = new byte[size];
            b.get(0, out, 0, size);
            return out;
        }
    }

    /** An ioctl that reads a {@code size}-byte struct, {@code state} exactly that long. */
    static void set(Fd fd, String op, long request, byte[] state, int size, String context) {
        requireLength(op, state, size);
        try (NativeBuffer b = new NativeBuffer(size)) {
            b.put(0, state, 0, size);
            fd.ioctl(op, request, b.address(), context);
        }
    }

    /** A struct a mirror writes into native memory ({@code write}), as its {@code size} bytes. */
    static byte[] encode(int size, java.util.function.Consumer<NativeBuffer> write) {
        try (NativeBuffer b = new NativeBuffer(size)) {
            write.accept(b);
            byte[] out = new byte[size];
            b.get(0, out, 0, size);
            return out;
        }
    }

    /** The mirror {@code read} makes of {@code bytes}, which must be exactly the {@code size} of {@code what}. */
    static <T> T decode(String what, byte[] bytes, int size, java.util.function.Function<NativeBuffer, T> read) {
        requireLength(what, bytes, size);
        try (NativeBuffer b = new NativeBuffer(size)) {
            b.put(0, bytes, 0, size);
            return read.apply(b);
        }
    }

    static void requireLength(String what, byte[] state, int size) {
        if (state == null || state.length != size) {
            throw new IllegalArgumentException(what + ": state must be " + size + " bytes, not "
                    + (state == null ? "null" : state.length));
        }
    }
}

package dev.jvmm.sys;

import com.kenai.jffi.LastError;
import com.kenai.jffi.MemoryIO;

import dev.jvmm.sys.uapi.CConstants;

/** Holder of the single {@link LibC} instance, errno access and raw native memory access. */
@CConstants(headers = {"fcntl.h", "sys/mman.h"})
public final class Native {
    /** The libc binding. */
    public static final LibC LIBC = new LibC();
    private static final LastError LAST_ERROR = LastError.getInstance();
    private static final MemoryIO IO = MemoryIO.getInstance();

    // open(2) flags, mmap(2) constants and friends for x86-64 Linux; checked against the headers in tests.
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_TRUNC = 01000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DSYNC = 010000;
    public static final int O_DIRECT = 040000;
    public static final int O_CLOEXEC = 02000000;
    public static final int SEEK_END = 2;
    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_POPULATE = 0x8000;
    public static final long MAP_FAILED = -1L;
    public static final int MADV_DONTNEED = 4;
    public static final int MADV_HUGEPAGE = 14;

    private Native() {
    }

    /** errno saved by the last call on this thread. */
    public static int errno() {
        return LAST_ERROR.get();
    }

    public static int getInt(long address) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, 4, "getInt");
        }
        return IO.getInt(address);
    }

    public static void putInt(long address, int value) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, 4, "putInt");
        }
        IO.putInt(address, value);
    }

    public static long getLong(long address) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, 8, "getLong");
        }
        return IO.getLong(address);
    }

    public static void putLong(long address, long value) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, 8, "putLong");
        }
        IO.putLong(address, value);
    }

    public static short getShort(long address) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, 2, "getShort");
        }
        return IO.getShort(address);
    }

    public static void putShort(long address, short value) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, 2, "putShort");
        }
        IO.putShort(address, value);
    }

    public static byte getByte(long address) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, 1, "getByte");
        }
        return IO.getByte(address);
    }

    public static void putByte(long address, byte value) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, 1, "putByte");
        }
        IO.putByte(address, value);
    }

    /**
     * Loads a 1-, 2-, 4- or 8-byte little-endian value, zero-extended: the data of a port I/O or MMIO exit in
     * {@code kvm_run}. Any other size reads 8 bytes.
     */
    public static long getSized(long address, int size) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, size == 1 || size == 2 || size == 4 ? size : 8, "getSized");
        }
        return switch (size) {
            case 1 -> IO.getByte(address) & 0xffL;
            case 2 -> IO.getShort(address) & 0xffffL;
            case 4 -> IO.getInt(address) & 0xffff_ffffL;
            default -> IO.getLong(address);
        };
    }

    /** Stores the low {@code size} (1, 2, 4, else 8) bytes of {@code value}, little-endian. */
    public static void putSized(long address, int size, long value) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, size == 1 || size == 2 || size == 4 ? size : 8, "putSized");
        }
        switch (size) {
            case 1 -> IO.putByte(address, (byte) value);
            case 2 -> IO.putShort(address, (short) value);
            case 4 -> IO.putInt(address, (int) value);
            default -> IO.putLong(address, value);
        }
    }

    public static void get(long address, byte[] dst, int off, int len) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, len, "get");
        }
        IO.getByteArray(address, dst, off, len);
    }

    public static void put(long address, byte[] src, int off, int len) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, len, "put");
        }
        IO.putByteArray(address, src, off, len);
    }

    /**
     * A direct buffer over {@code capacity} bytes of native memory at {@code address} (not freed by the buffer: it
     * must not be used once that memory is unmapped).
     */
    public static java.nio.ByteBuffer directBuffer(long address, int capacity) {
        return IO.newDirectByteBuffer(address, capacity);
    }

    public static void copy(long src, long dst, long len) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(src, len, "copy from");
            MemoryGuard.check(dst, len, "copy to");
        }
        IO.copyMemory(src, dst, len);
    }

    public static void fill(long address, long len, byte value) {
        if (MemoryGuard.ON) {
            MemoryGuard.check(address, len, "fill");
        }
        IO.setMemory(address, len, value);
    }

    static long allocate(long size) {
        long a = IO.allocateMemory(size, true);
        MemoryGuard.register(a, size, false, "a native buffer");
        return a;
    }

    static void free(long address) {
        MemoryGuard.unregister(address);
        IO.freeMemory(address);
    }
}

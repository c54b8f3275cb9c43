package dev.jvmm.sys;

/**
 * A zeroed block of native memory for kernel structs and iovec arrays, with bounds-checked access.
 * Owned: {@link #close()} frees it, once.
 */
public final class NativeBuffer implements AutoCloseable {
    private long address;
    private final long size;

    public NativeBuffer(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("size " + size);
        }
        this.size = size;
        this.address = Native.allocate(size);
        if (address == 0) {
            throw new OutOfMemoryError("native allocation of " + size + " bytes");
        }
    }

    public long address() {
        if (address == 0) {
            throw new IllegalStateException("native buffer freed");
        }
        return address;
    }

    public long size() {
        return size;
    }

    private long at(long off, int len) {
        if (off < 0 || off + len > size) {
            throw new IndexOutOfBoundsException("offset " + off + "+" + len + " outside buffer of " + size);
        }
        return address() + off;
    }

    public byte getByte(long off) {
        return Native.getByte(at(off, 1));
    }

    public void putByte(long off, int v) {
        Native.putByte(at(off, 1), (byte) v);
    }

    public short getShort(long off) {
        return Native.getShort(at(off, 2));
    }

    public void putShort(long off, int v) {
        Native.putShort(at(off, 2), (short) v);
    }

    public int getInt(long off) {
        return Native.getInt(at(off, 4));
    }

    public void putInt(long off, int v) {
        Native.putInt(at(off, 4), v);
    }

    public long getLong(long off) {
        return Native.getLong(at(off, 8));
    }

    public void putLong(long off, long v) {
        Native.putLong(at(off, 8), v);
    }

    public void get(long off, byte[] dst, int dstOff, int len) {
        Native.get(at(off, len), dst, dstOff, len);
    }

    public void put(long off, byte[] src, int srcOff, int len) {
        Native.put(at(off, len), src, srcOff, len);
    }

    public void clear() {
        Native.fill(address(), size, (byte) 0);
    }

    @Override
    public void close() {
        long a = address;
        address = 0;
        if (a != 0) {
            Native.free(a);
        }
    }
}

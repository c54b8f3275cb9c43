package dev.jvmm.sys;

/**
 * A kernel struct that ends in a flexible array ({@code kvm_irq_routing}, {@code kvm_cpuid2},
 * {@code kvm_msrs}, {@code vfio_irq_set}): a fixed header followed by {@code n} entries of one size.
 */
public final class FlexArray implements AutoCloseable {
    private final NativeBuffer buf;
    private final long headerSize;
    private final long entrySize;
    private final int capacity;

    public FlexArray(long headerSize, long entrySize, int capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        this.headerSize = headerSize;
        this.entrySize = entrySize;
        this.capacity = capacity;
        this.buf = new NativeBuffer(Math.max(1, headerSize + entrySize * capacity));
    }

    public NativeBuffer buffer() {
        return buf;
    }

    public long address() {
        return buf.address();
    }

    public int capacity() {
        return capacity;
    }

    /** Offset in the buffer of entry {@code i}. */
    public long entry(int i) {
        if (i < 0 || i >= capacity) {
            throw new IndexOutOfBoundsException("entry " + i + " of " + capacity);
        }
        return headerSize + entrySize * i;
    }

    @Override
    public void close() {
        buf.close();
    }
}

package dev.jvmm.virtio;

/**
 * One descriptor chain popped from a virtqueue, resolved to host addresses inside guest RAM: first the
 * device-readable segments, then the device-writable ones. Reused by its queue for every request (no
 * allocation per request); valid until the next {@link VirtQueue#pop}.
 */
public final class DescriptorChain {
    private final long[] addr;
    private final int[] len;
    private final long[] gpa;
    private int readable;
    private int count;
    private int head = -1;
    private long readableBytes;
    private long writableBytes;

    DescriptorChain(int capacity) {
        addr = new long[capacity];
        len = new int[capacity];
        gpa = new long[capacity];
    }

    void reset(int head) {
        this.head = head;
        readable = 0;
        count = 0;
        readableBytes = 0;
        writableBytes = 0;
    }

    void add(long hostAddr, long guestAddr, int length, boolean writable) {
        if (dev.jvmm.sys.MemoryGuard.ON) {
            dev.jvmm.sys.MemoryGuard.checkGuest(hostAddr, length & 0xffffffffL, "descriptor gpa=0x"
                    + Long.toHexString(guestAddr));
        }
        addr[count] = hostAddr;
        gpa[count] = guestAddr;
        len[count] = length;
        count++;
        if (writable) {
            writableBytes += length & 0xffffffffL;
        } else {
            readable++;
            readableBytes += length & 0xffffffffL;
        }
    }

    int capacity() {
        return addr.length;
    }

    /** The head descriptor index, to hand back with {@link VirtQueue#addUsed}. */
    public int head() {
        return head;
    }

    /** Number of segments. */
    public int count() {
        return count;
    }

    /** Segments {@code [0, readableCount())} are device-readable. */
    public int readableCount() {
        return readable;
    }

    public int writableCount() {
        return count - readable;
    }

    /** Host address of segment {@code i} (inside guest RAM). */
    public long address(int i) {
        return addr[i];
    }

    public long guestAddress(int i) {
        return gpa[i];
    }

    /** Length of segment {@code i} in bytes (unsigned 32-bit). */
    public long length(int i) {
        return len[i] & 0xffffffffL;
    }

    public long readableBytes() {
        return readableBytes;
    }

    public long writableBytes() {
        return writableBytes;
    }
}

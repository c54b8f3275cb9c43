package dev.jvmm.virtio.blk.qcow2;

import dev.jvmm.sys.Mmap;

/**
 * A fixed number of metadata slices (L2 tables or refcount blocks, {@code min(cluster size, 4 KiB)} bytes each,
 * aligned in the file and page-aligned in memory so that O_DIRECT takes them), least recently used evicted. Made at
 * open, never grown: nothing is allocated per request.
 *
 * <p>Writes go to the file when the caller says ({@link #put} with {@code now}, or {@link #writeBack}); a slice
 * with unwritten changes is written before it is evicted. Before any slice is written, {@code beforeWrite} runs
 * (what must be on disk before the slice may point at it). Not thread-safe: its image's lock guards it.
 */
final class SliceCache implements AutoCloseable {
    private final int fd;
    private final String what;
    private final Runnable beforeWrite;
    final int sliceSize;
    private final int slots;
    private final Mmap mem;
    private final long[] keys;
    private final long[] stamp;
    private final boolean[] dirty;
    private long clock;
    private int lastHit = -1;

    SliceCache(int fd, String what, int sliceSize, int slots, Runnable beforeWrite) {
        this.fd = fd;
        this.what = what;
        this.beforeWrite = beforeWrite;
        this.sliceSize = sliceSize;
        this.slots = slots;
        this.mem = Mmap.anonymous((long) sliceSize * slots, what + " cache");
        this.keys = new long[slots];
        this.stamp = new long[slots];
        this.dirty = new boolean[slots];
        java.util.Arrays.fill(keys, -1);
    }

    /** The memory address of the byte at file offset {@code off} (loaded if needed). */
    long address(long off) {
        long key = off & -(long) sliceSize;
        int s = find(key);
        return mem.address() + (long) s * sliceSize + (off - key);
    }

    long getLong(long off) {
        return ImageIo.getBE64(address(off));
    }

    /** Stores a big-endian 8-byte value at file offset {@code off}; written to the file now or at writeBack. */
    void putLong(long off, long v, boolean now) {
        ImageIo.putBE64(address(off), v);
        touched(off, now);
    }

    /** After a change made through {@link #address}: marks the slice, writing it now if asked. */
    void touched(long off, boolean now) {
        long key = off & -(long) sliceSize;
        int s = find(key);
        dirty[s] = true;
        if (now) {
            write(s);
        }
    }

    /** Writes every slice with unwritten changes. */
    void writeBack() {
        for (int s = 0; s < slots; s++) {
            if (dirty[s]) {
                write(s);
            }
        }
    }

    /** Forgets what is cached of {@code [off, off+len)} (written back first). */
    void invalidate(long off, long len) {
        for (int s = 0; s < slots; s++) {
            if (keys[s] >= 0 && keys[s] + sliceSize > off && keys[s] < off + len) {
                if (dirty[s]) {
                    write(s);
                }
                keys[s] = -1;
            }
        }
        lastHit = -1;
    }

    private void write(int s) {
        beforeWrite.run();
        ImageIo.pwriteFully(fd, mem.address() + (long) s * sliceSize, sliceSize, keys[s], what);
        dirty[s] = false;
    }

    private int find(long key) {
        if (lastHit >= 0 && keys[lastHit] == key) {
            stamp[lastHit] = ++clock;
            return lastHit;
        }
        int victim = 0;
        for (int s = 0; s < slots; s++) {
            if (keys[s] == key) {
                stamp[s] = ++clock;
                lastHit = s;
                return s;
            }
            if (stamp[s] < stamp[victim]) {
                victim = s;
            }
        }
        if (dirty[victim]) {
            write(victim);
        }
        keys[victim] = -1;
        ImageIo.preadZeroTail(fd, mem.address() + (long) victim * sliceSize, sliceSize, key, what);
        keys[victim] = key;
        stamp[victim] = ++clock;
        lastHit = victim;
        return victim;
    }

    @Override
    public void close() {
        mem.close();
    }
}

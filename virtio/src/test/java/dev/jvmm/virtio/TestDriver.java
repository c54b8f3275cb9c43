package dev.jvmm.virtio;

import dev.jvmm.core.GuestMemory;

/**
 * A simulated virtio driver for unit tests: it lays out a split queue's rings in guest memory and publishes
 * descriptor chains the way a guest driver would, including malformed ones.
 */
public final class TestDriver {
    public final GuestMemory mem;
    public final int size;
    public final long desc, avail, used;
    private int availIdx;

    public TestDriver(GuestMemory mem, int size, long base) {
        this.mem = mem;
        this.size = size;
        this.desc = base;
        this.avail = base + 16L * size;
        this.used = (avail + 6 + 2L * size + 3) & ~3L;
    }

    public VirtQueue queue(int maxSegments, boolean eventIdx, boolean indirect) {
        VirtQueue q = new VirtQueue(mem, 0, size, maxSegments);
        q.setSize(size);
        q.setAddresses(desc, avail, used);
        q.setFeatures(eventIdx, indirect);
        q.enable();
        return q;
    }

    /** Writes descriptor {@code i} of the table at {@code table}. */
    public void desc(long table, int i, long addr, int len, int flags, int next) {
        long d = table + 16L * i;
        mem.putLong(d, addr);
        mem.putInt(d + 8, len);
        mem.putShort(d + 12, flags);
        mem.putShort(d + 14, next);
    }

    public void desc(int i, long addr, int len, int flags, int next) {
        desc(desc, i, addr, len, flags, next);
    }

    /** Publishes {@code head} in the avail ring and bumps the index. */
    public void publish(int head) {
        mem.putShort(avail + 4 + 2L * (availIdx % size), head);
        availIdx++;
        mem.putShort(avail + 2, availIdx);
    }

    public void setAvailIdx(int idx) {
        availIdx = idx;
        mem.putShort(avail + 2, idx);
    }

    public void setUsedEvent(int v) {
        mem.putShort(avail + 4 + 2L * size, v);
    }

    public int usedIdx() {
        return mem.getShort(used + 2) & 0xffff;
    }

    public int usedId(int slot) {
        return mem.getInt(used + 4 + 8L * (slot % size));
    }

    public int usedLen(int slot) {
        return mem.getInt(used + 4 + 8L * (slot % size) + 4);
    }

    public int availEvent() {
        return mem.getShort(used + 4 + 8L * size) & 0xffff;
    }
}

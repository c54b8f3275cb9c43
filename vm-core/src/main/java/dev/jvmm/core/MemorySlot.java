package dev.jvmm.core;

/** One registered KVM memory slot. {@link #close()} deletes it (size 0), once. */
public final class MemorySlot implements AutoCloseable {
    private final MemorySlotSink sink;
    private final int slot;
    private int flags;
    private final long gpa;
    private final long size;
    private final long hva;
    private boolean open = true;

    MemorySlot(MemorySlotSink sink, int slot, int flags, long gpa, long size, long hva) {
        this.sink = sink;
        this.slot = slot;
        this.flags = flags;
        this.gpa = gpa;
        this.size = size;
        this.hva = hva;
    }

    /** Registers {@code [gpa, gpa+size)} backed by host memory at {@code hva}. */
    public static MemorySlot register(MemorySlotSink sink, int slot, int flags, long gpa, long size, long hva) {
        sink.setUserMemoryRegion(slot, flags, gpa, size, hva);
        return new MemorySlot(sink, slot, flags, gpa, size, hva);
    }

    public int slot() {
        return slot;
    }

    public long guestPhysAddr() {
        return gpa;
    }

    public long size() {
        return size;
    }

    public long hostAddress() {
        return hva;
    }

    /** The flags the slot is registered with now ({@code KVM_MEM_*}). */
    public synchronized int flags() {
        return flags;
    }

    /**
     * Registers the slot again, unchanged but for {@code newFlags}, through {@code via} (the same VM's
     * KVM_SET_USER_MEMORY_REGION; KVM takes a change of flags alone on a live slot, as for turning dirty logging on
     * and off). The new flags are kept only when the call succeeds.
     */
    synchronized void setFlags(MemorySlotSink via, int newFlags) {
        if (!open) {
            throw new IllegalStateException("memory slot " + slot + " was removed");
        }
        via.setUserMemoryRegion(slot, newFlags, gpa, size, hva);
        flags = newFlags;
    }

    @Override
    public synchronized void close() {
        if (open) {
            open = false;
            sink.setUserMemoryRegion(slot, flags, gpa, 0, hva);
        }
    }
}

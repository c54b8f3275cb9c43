package dev.jvmm.core;

import java.util.Map;
import java.util.TreeMap;

/**
 * First-fit allocator of aligned ranges inside one window of guest-physical (or port) space, such as the MMIO32
 * window below 4 GiB or the MMIO64 window above RAM. Used for BARs; {@link #free} returns a range.
 */
public final class AddressAllocator {
    private final String name;
    private final long base;
    private final long end;
    private final TreeMap<Long, Long> used = new TreeMap<>();

    /** The window {@code [base, base+size)}. */
    public AddressAllocator(String name, long base, long size) {
        if (size <= 0) {
            throw new VmCoreException(VmCoreException.Reason.INVALID, name + ": empty window");
        }
        this.name = name;
        this.base = base;
        this.end = base + size;
    }

    public String name() {
        return name;
    }

    public long base() {
        return base;
    }

    public long size() {
        return end - base;
    }

    /** Allocates {@code size} bytes aligned to {@code align} (a power of two). */
    public synchronized long allocate(long size, long align) {
        if (size <= 0 || Long.bitCount(align) != 1) {
            throw new VmCoreException(VmCoreException.Reason.INVALID,
                    name + ": bad request size=0x" + Long.toHexString(size) + " align=0x" + Long.toHexString(align));
        }
        long cand = alignUp(base, align);
        for (Map.Entry<Long, Long> e : used.entrySet()) {
            if (cand + size <= e.getKey()) {
                break;
            }
            cand = Math.max(cand, alignUp(e.getKey() + e.getValue(), align));
        }
        if (cand + size > end || cand + size < cand) {
            throw new VmCoreException(VmCoreException.Reason.OUT_OF_BOUNDS, String.format(
                    "%s: no room for 0x%x bytes (aligned 0x%x) in [0x%x, 0x%x)", name, size, align, base, end));
        }
        used.put(cand, size);
        return cand;
    }

    /**
     * Takes {@code [address, address+size)}, which must lie in the window and overlap nothing taken (a restored VM
     * puts its BARs back where they were).
     */
    public synchronized long allocateAt(long address, long size) {
        if (size <= 0 || address < base || address + size > end || address + size < address) {
            throw new VmCoreException(VmCoreException.Reason.OUT_OF_BOUNDS, String.format(
                    "%s: [0x%x, +0x%x) is not inside [0x%x, 0x%x)", name, address, size, base, end));
        }
        Map.Entry<Long, Long> below = used.floorEntry(address + size - 1);
        if (below != null && below.getKey() + below.getValue() > address) {
            throw new VmCoreException(VmCoreException.Reason.OVERLAP, String.format(
                    "%s: [0x%x, +0x%x) overlaps [0x%x, +0x%x)", name, address, size, below.getKey(), below.getValue()));
        }
        used.put(address, size);
        return address;
    }

    /** Returns a range obtained from {@link #allocate}. */
    public synchronized void free(long address) {
        if (used.remove(address) == null) {
            throw new VmCoreException(VmCoreException.Reason.INVALID,
                    name + ": 0x" + Long.toHexString(address) + " was not allocated");
        }
    }

    private static long alignUp(long v, long a) {
        return (v + a - 1) & -a;
    }
}

package dev.jvmm.core;

import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Guest RAM: anonymous mmap regions at guest-physical addresses. Every access is bounds-checked, so a
 * guest-supplied address can never make the VMM touch host memory outside guest RAM; an access that is not
 * entirely inside one region throws {@link VmCoreException} with reason {@code OUT_OF_BOUNDS}.
 */
public final class GuestMemory implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(GuestMemory.class);
    /** Transparent huge page size on x86-64; regions at least this large are aligned to it. */
    static final long HUGE_PAGE = 2L << 20;
    /** One contiguous region of guest RAM. */
    public record Region(long guestPhysAddr, long size, long hostAddress) {
        public long end() {
            return guestPhysAddr + size;
        }

        boolean contains(long gpa, long len) {
            return gpa >= guestPhysAddr && len >= 0 && gpa - guestPhysAddr <= size - len;
        }
    }

    /** A requested region: guest-physical start and size. */
    public record Range(long guestPhysAddr, long size) {
    }

    private final Region[] regions;
    private final List<Mmap> maps;
    private final List<MemorySlot> slots = new ArrayList<>();

    private GuestMemory(Region[] regions, List<Mmap> maps) {
        this.regions = regions;
        this.maps = maps;
    }

    /** Allocates page-aligned, non-overlapping regions of anonymous memory. */
    public static GuestMemory create(List<Range> ranges) {
        List<Range> sorted = new ArrayList<>(ranges);
        sorted.sort(Comparator.comparingLong(Range::guestPhysAddr));
        for (int i = 0; i < sorted.size(); i++) {
            Range r = sorted.get(i);
            if (r.size() <= 0 || (r.guestPhysAddr() & 0xfff) != 0 || (r.size() & 0xfff) != 0) {
                throw new VmCoreException(VmCoreException.Reason.INVALID,
                        String.format("guest RAM region gpa=0x%x size=0x%x must be page-aligned and non-empty",
                                r.guestPhysAddr(), r.size()));
            }
            if (i > 0 && sorted.get(i - 1).guestPhysAddr() + sorted.get(i - 1).size() > r.guestPhysAddr()) {
                throw new VmCoreException(VmCoreException.Reason.OVERLAP,
                        String.format("guest RAM regions overlap at gpa=0x%x", r.guestPhysAddr()));
            }
        }
        List<Mmap> maps = new ArrayList<>();
        Region[] regions = new Region[sorted.size()];
        try {
            for (int i = 0; i < sorted.size(); i++) {
                Range r = sorted.get(i);
                String name = "guest RAM @0x" + Long.toHexString(r.guestPhysAddr());
                // As QEMU does: 2 MiB-aligned and advised for transparent huge pages, so that the host backs guest
                // RAM with huge pages and KVM maps them as such (fewer nested page faults and TLB misses).
                Mmap m = r.size() >= HUGE_PAGE ? Mmap.anonymousAligned(r.size(), HUGE_PAGE, name)
                        : Mmap.anonymous(r.size(), name);
                maps.add(m);
                if (r.size() >= HUGE_PAGE && !m.adviseHugePages()) {
                    log.debug("{}: madvise(MADV_HUGEPAGE) refused (errno {}); small pages", name, Native.errno());
                }
                regions[i] = new Region(r.guestPhysAddr(), r.size(), m.address());
            }
        } catch (RuntimeException e) {
            maps.forEach(Mmap::close);
            throw e;
        }
        return new GuestMemory(regions, maps);
    }

    public List<Region> regions() {
        return List.of(regions);
    }

    /** Total bytes of guest RAM. */
    public long size() {
        long s = 0;
        for (Region r : regions) {
            s += r.size();
        }
        return s;
    }

    /** True when {@code [gpa, gpa+len)} lies entirely inside one region. */
    public boolean contains(long gpa, long len) {
        return find(gpa, len) != null;
    }

    private Region find(long gpa, long len) {
        for (Region r : regions) {
            if (r.contains(gpa, len)) {
                return r;
            }
        }
        return null;
    }

    /**
     * Host address of {@code [gpa, gpa+len)}, which must lie entirely inside one region; the basis of
     * zero-copy I/O (iovecs into guest RAM).
     */
    public long hostAddress(long gpa, long len) {
        Region r = find(gpa, len);
        if (r == null) {
            throw new VmCoreException(VmCoreException.Reason.OUT_OF_BOUNDS,
                    String.format("guest range gpa=0x%x len=0x%x is not inside guest RAM", gpa, len));
        }
        return r.hostAddress() + (gpa - r.guestPhysAddr());
    }

    public byte getByte(long gpa) {
        return Native.getByte(hostAddress(gpa, 1));
    }

    public void putByte(long gpa, int v) {
        Native.putByte(hostAddress(gpa, 1), (byte) v);
    }

    public short getShort(long gpa) {
        return Native.getShort(hostAddress(gpa, 2));
    }

    public void putShort(long gpa, int v) {
        Native.putShort(hostAddress(gpa, 2), (short) v);
    }

    public int getInt(long gpa) {
        return Native.getInt(hostAddress(gpa, 4));
    }

    public void putInt(long gpa, int v) {
        Native.putInt(hostAddress(gpa, 4), v);
    }

    public long getLong(long gpa) {
        return Native.getLong(hostAddress(gpa, 8));
    }

    public void putLong(long gpa, long v) {
        Native.putLong(hostAddress(gpa, 8), v);
    }

    public void read(long gpa, byte[] dst, int off, int len) {
        Native.get(hostAddress(gpa, len), dst, off, len);
    }

    public void write(long gpa, byte[] src, int off, int len) {
        Native.put(hostAddress(gpa, len), src, off, len);
    }

    public void write(long gpa, byte[] src) {
        write(gpa, src, 0, src.length);
    }

    public void fill(long gpa, long len, byte v) {
        Native.fill(hostAddress(gpa, len), len, v);
    }

    /**
     * Registers one KVM memory slot per region, numbered from {@code firstSlot}. The slots are owned by
     * this object and removed on {@link #close()} before the memory is unmapped.
     */
    public synchronized List<MemorySlot> registerSlots(MemorySlotSink sink, int firstSlot) {
        List<MemorySlot> added = new ArrayList<>();
        try {
            for (int i = 0; i < regions.length; i++) {
                Region r = regions[i];
                added.add(MemorySlot.register(sink, firstSlot + i, 0, r.guestPhysAddr(), r.size(), r.hostAddress()));
            }
        } catch (RuntimeException e) {
            added.forEach(MemorySlot::close);
            throw e;
        }
        slots.addAll(added);
        return List.copyOf(added);
    }

    /** Removes the memory slots, then unmaps the memory (KVM must stop referencing it first). */
    @Override
    public synchronized void close() {
        RuntimeException first = null;
        for (int i = slots.size() - 1; i >= 0; i--) {
            try {
                slots.get(i).close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        slots.clear();
        maps.forEach(Mmap::close);
        if (first != null) {
            throw first;
        }
    }
}

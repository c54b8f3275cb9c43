package dev.jvmm.sys;

/**
 * Owner of one mmap(2) mapping; {@link #close()} unmaps it, once. What it owns is the address range
 * {@code [address, address + length)}: {@link #close()} unmaps that range whatever is mapped there by then, so a
 * mapping that replaced the whole range in place with {@code MAP_FIXED} (guest RAM restored from a file) is unmapped
 * just the same.
 */
public final class Mmap implements AutoCloseable {
    private static final int ANON_PROT = Native.PROT_READ | Native.PROT_WRITE;
    private static final int ANON_FLAGS = Native.MAP_PRIVATE | Native.MAP_ANONYMOUS | Native.MAP_NORESERVE;
    private long address;
    private final long length;
    private final String name;

    private Mmap(long address, long length, String name) {
        this.address = address;
        this.length = length;
        this.name = name;
        MemoryGuard.register(address, length, false, name);
    }

    /** Private anonymous read-write memory (zeroed, not reserved in swap). */
    public static Mmap anonymous(long length, String name) {
        return map(0, length, ANON_PROT, ANON_FLAGS, -1, 0, name);
    }

    /**
     * Private anonymous read-write memory like {@link #anonymous}, starting on an {@code align} boundary (a power of
     * two, e.g. 2 MiB), so that the kernel can back it with transparent huge pages and KVM can map it into the guest
     * with huge pages (a guest-physical and a host-virtual address must agree modulo 2 MiB for that). Reserves
     * {@code length + align} and unmaps the unaligned head and tail.
     */
    public static Mmap anonymousAligned(long length, long align, String name) {
        if (align <= 4096 || Long.bitCount(align) != 1) {
            throw new IllegalArgumentException("alignment 0x" + Long.toHexString(align) + " for " + name
                    + " is not a power of two above the page size");
        }
        if (length <= 0 || length > Long.MAX_VALUE - align) {
            throw new IllegalArgumentException("mmap length " + length + " for " + name);
        }
        long a = map(0, length + align, ANON_PROT, ANON_FLAGS, -1, 0, name).address;
        MemoryGuard.unregister(a); // the aligned part is registered below
        long start = (a + align - 1) & -align;
        long end = start + length;
        if (start > a) {
            Native.LIBC.munmap(a, start - a);
        }
        if (a + length + align > end) {
            Native.LIBC.munmap(end, a + length + align - end);
        }
        return new Mmap(start, length, name);
    }

    /**
     * madvise(MADV_HUGEPAGE): asks for transparent huge pages even where the host's policy is "madvise" (and, with
     * the default defrag policy, for compaction at fault time). False where the kernel refuses (no THP support);
     * the memory works either way.
     */
    public boolean adviseHugePages() {
        return Native.LIBC.madvise(address(), length, Native.MADV_HUGEPAGE) == 0;
    }

    /** Maps {@code length} bytes of {@code fd} at {@code offset} shared, as for kvm_run or a VFIO BAR. */
    public static Mmap shared(Fd fd, long length, long offset, int prot, String name) {
        return map(0, length, prot, Native.MAP_SHARED, fd.fd(), offset, name);
    }

    public static Mmap map(long addr, long length, int prot, int flags, int fd, long offset, String name) {
        if (length <= 0) {
            throw new IllegalArgumentException("mmap length " + length + " for " + name);
        }
        long a = Native.LIBC.mmap(addr, length, prot, flags, fd, offset);
        if (a == Native.MAP_FAILED) {
            throw new ErrnoException("mmap", Native.errno(), name + " length=" + length + " offset=" + offset);
        }
        return new Mmap(a, length, name);
    }

    public long address() {
        if (address == 0) {
            throw new IllegalStateException(name + " is unmapped");
        }
        return address;
    }

    public long length() {
        return length;
    }

    public String name() {
        return name;
    }

    @Override
    public void close() {
        long a = address;
        address = 0;
        if (a != 0) {
            MemoryGuard.unregister(a);
            Native.LIBC.munmap(a, length);
        }
    }
}

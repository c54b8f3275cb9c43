package dev.jvmm.core;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Guest RAM: anonymous mmap regions at guest-physical addresses. Every access is bounds-checked, so a
 * guest-supplied address can never make the VMM touch host memory outside guest RAM; an access that is not
 * entirely inside one region throws {@link VmCoreException} with reason {@code OUT_OF_BOUNDS}.
 *
 * <p>For snapshot and restore, {@link #writeTo} dumps guest RAM to a sparse file and {@link #mapPrivate} brings such
 * a file back as copy-on-write guest RAM that faults in lazily. The file's layout is the regions in guest-physical
 * order, back to back: region {@code i} starts at the sum of the sizes of the regions before it, and the file is
 * exactly {@link #size()} bytes long.
 *
 * <p>For live migration, {@link #startDirtyLog} turns on dirty page tracking: KVM's dirty log on every memory slot
 * (the guest's writes) and this object's record of the pages the VMM wrote itself ({@link #markDirtyHost}: device
 * threads write guest RAM through host addresses, which KVM does not see). {@link #harvestDirty} returns, region by
 * region, the pages either wrote since the previous harvest; {@link #allPages} is the first round's "everything".
 * Writers outside the JVM (the vhost-net kernel worker) log their writes themselves into the {@linkplain
 * #kernelLogAddress() kernel log}, which the harvest takes in too; they follow logging on and off through
 * {@link #addDirtyLogListener}.
 */
public final class GuestMemory implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(GuestMemory.class);
    /** Transparent huge page size on x86-64; regions at least this large are aligned to it. */
    static final long HUGE_PAGE = 2L << 20;
    /** Granularity of the zero-page check of {@link #writeTo}: a hole in the file is at least one such page. */
    static final int PAGE = 4096;
    /** Longest run of non-zero pages written by one pwrite: short enough that the pages are still in cache. */
    private static final long MAX_RUN = 1L << 20;
    private static final int RAM_PROT = Native.PROT_READ | Native.PROT_WRITE;
    /**
     * The files (by device and inode) that back some guest RAM of this process through {@link #mapPrivate}, with
     * how many memories they back. {@link #writeTo} refuses them: truncating or rewriting such a file would change
     * or take away (SIGBUS) the guest's pages not yet copied on write.
     */
    private static final Map<Object, Integer> BACKING_FILES = new HashMap<>();
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
    /** Device and inode of the file mapped by {@link #mapPrivate}, or null while the memory is anonymous. */
    private Object backingFile;
    private boolean closed;
    /**
     * The pages the VMM wrote (per region, one bit per 4 KiB page, as {@link DirtyBitmap}) while dirty logging is on;
     * null while it is off. Published whole by {@link #startDirtyLog}; its words are set with an atomic OR by
     * {@link #markDirtyHost} and taken with an atomic get-and-set-0 by {@link #harvestDirty}.
     */
    private volatile long[][] deviceDirty;
    /** Per slot in {@link #slots}, the native buffer KVM_GET_DIRTY_LOG writes into (allocated on first harvest). */
    private NativeBuffer[] kvmBitmaps;
    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);
    /**
     * The dirty log of writers outside the JVM, in the layout of vhost's VHOST_SET_LOG_BASE: one bit per 4 KiB
     * guest-physical page counted from address 0, in 64-bit little-endian words that the kernel sets atomically.
     * Mapped by the first {@link #startDirtyLog} and kept until {@link #close}: a vhost fd may hold its address for a
     * while after logging stops, so it is never freed under one. Guarded by {@code this}.
     */
    private Mmap kernelLog;
    private ByteBuffer kernelLogView;
    /** {@link #kernelLog}'s address while logging is on, 0 while it is off. */
    private volatile long kernelLogAddress;
    private static final VarHandle LOG_WORDS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    /** Told after dirty logging turned on or off (see {@link #addDirtyLogListener}). */
    private final List<Runnable> dirtyLogListeners = new CopyOnWriteArrayList<>();

    private GuestMemory(Region[] regions, List<Mmap> maps) {
        this.regions = regions;
        this.maps = maps;
    }

    /** Allocates page-aligned, non-overlapping regions of anonymous memory. */
    public static GuestMemory create(List<Range> ranges) {
        List<Range> sorted = new ArrayList<>(ranges);
        // not Comparator.comparingLong: its lambda, the JDK's, is spun at every start (AOT caches keep the app's)
        sorted.sort((a, b) -> Long.compare(a.guestPhysAddr(), b.guestPhysAddr()));
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
                dev.jvmm.sys.MemoryGuard.register(m.address(), r.size(), true, name);
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
     * Gives the host back the pages of {@code [gpa, gpa+len)} with madvise(MADV_DONTNEED): the process's RSS drops,
     * and the next access of either the guest or the VMM faults in a zeroed page (of anonymous memory; memory mapped
     * from a snapshot file by {@link #mapPrivate} reads the file's page again). For virtio-balloon's inflate and free
     * page reporting, where the guest has promised not to use the pages until it takes them back. The range must be
     * 4 KiB-aligned and lie inside one region; it is marked dirty for a running migration (its content changed).
     *
     * @throws VmCoreException {@code OUT_OF_BOUNDS} when the range is not inside guest RAM, {@code INVALID} when it is
     *         not page-aligned, {@code IO} when madvise fails (errno named); nothing is released then
     */
    public void discard(long gpa, long len) {
        if (len <= 0 || (gpa & (PAGE - 1)) != 0 || (len & (PAGE - 1)) != 0) {
            throw new VmCoreException(VmCoreException.Reason.INVALID, String.format(
                    "cannot discard gpa=0x%x len=0x%x: not a non-empty run of whole 4 KiB pages", gpa, len));
        }
        long host = hostAddress(gpa, len);
        if (Native.LIBC.madvise(host, len, Native.MADV_DONTNEED) != 0) {
            int errno = Native.errno();
            throw new VmCoreException(VmCoreException.Reason.IO, String.format("cannot discard gpa=0x%x len=0x%x: %s",
                    gpa, len, new ErrnoException("madvise(MADV_DONTNEED)", errno, null).getMessage()));
        }
        markDirtyHost(host, len);
    }

    /**
     * Registers one KVM memory slot per region, numbered from {@code firstSlot}. The slots are owned by
     * this object and removed on {@link #close()} before the memory is unmapped.
     */
    public synchronized List<MemorySlot> registerSlots(MemorySlotSink sink, int firstSlot) {
        if (deviceDirty != null) {
            throw new VmCoreException(VmCoreException.Reason.INVALID,
                    "cannot register memory slots while dirty logging is on; stopDirtyLog first");
        }
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

    /**
     * Writes guest RAM to {@code file}, region after region in guest-physical order and back to back (see the class
     * comment), straight from guest memory with pwrite(2): no copy through the Java heap. Pages (4 KiB) that are
     * entirely zero are not written, and the file is sized with ftruncate(2) at the end, so they are holes of a
     * sparse file (on a file system that has holes) and read back as zeros. The file is created with mode 0600 (guest
     * RAM may hold secrets) or, if it exists, truncated (it keeps its mode), and it is flushed with fdatasync(2)
     * before this returns.
     *
     * <p>The guest must not run meanwhile (vCPUs paused, devices quiet), or the file is not one moment's RAM. On
     * failure the file is left incomplete and, unless only the final flush failed, shorter than guest RAM, which
     * {@link #mapPrivate} refuses. A file that backs guest RAM of this process through {@link #mapPrivate} is
     * refused: rewriting it would change that RAM under the guest.
     *
     * @return the bytes written: the non-zero pages, {@code size()} at most
     * @throws VmCoreException with reason {@code IO} naming the file when it cannot be created, written, sized or
     *         flushed, or reason {@code INVALID} for a file that backs guest RAM or when this memory is closed
     */
    public synchronized long writeTo(Path file) {
        requireOpen("write guest RAM to " + file);
        Object key = existingFileKey(file);
        if (key != null && isBackingFile(key)) {
            throw new VmCoreException(VmCoreException.Reason.INVALID, "cannot write guest RAM to " + file
                    + ": it backs guest RAM mapped from it (mapPrivate); write the snapshot to another file");
        }
        long t0 = System.nanoTime();
        long written = 0;
        long offset = 0;
        try (Fd fd = Fd.open(file.toString(), Native.O_WRONLY | Native.O_CREAT | Native.O_TRUNC, 0600)) {
            for (Region r : regions) {
                written += dumpRegion(fd, r, offset);
                offset += r.size();
            }
            if (Native.LIBC.ftruncate(fd.fd(), offset) != 0) {
                throw new ErrnoException("ftruncate", Native.errno(), "to " + offset + " bytes");
            }
            if (Native.LIBC.fdatasync(fd.fd()) != 0) {
                throw new ErrnoException("fdatasync", Native.errno(), null);
            }
        } catch (ErrnoException e) {
            throw new VmCoreException(VmCoreException.Reason.IO, "cannot write guest RAM to " + file + ": "
                    + e.getMessage(), e);
        }
        log.debug("guest RAM written to {}: {} of {} bytes non-zero, {} ms", file, written, offset,
                (System.nanoTime() - t0) / 1_000_000);
        return written;
    }

    /** Writes the non-zero pages of {@code r} at {@code fileOffset} on; returns the bytes written. */
    private static long dumpRegion(Fd fd, Region r, long fileOffset) {
        long base = r.hostAddress();
        long end = r.size(); // a multiple of PAGE (checked by create)
        long written = 0;
        long off = 0;
        while (off < end) {
            while (off < end && isZeroPage(base + off)) {
                off += PAGE;
            }
            long start = off;
            while (off < end && off - start < MAX_RUN && !isZeroPage(base + off)) {
                off += PAGE;
            }
            if (off > start) {
                pwriteFully(fd, base + start, off - start, fileOffset + start);
                written += off - start;
            }
        }
        return written;
    }

    /**
     * True when the 4 KiB page at {@code address} is all zeros. {@link Native#getLong} is jffi's Unsafe-backed memory
     * access (a JIT intrinsic, a plain load, not a JNI call); eight loads are OR-ed per 64-byte cache line, which
     * costs one branch per line instead of one per long, and a non-zero line ends the check.
     */
    public static boolean isZeroPage(long address) {
        for (long a = address, end = address + PAGE; a < end; a += 64) {
            if ((Native.getLong(a) | Native.getLong(a + 8) | Native.getLong(a + 16) | Native.getLong(a + 24)
                    | Native.getLong(a + 32) | Native.getLong(a + 40) | Native.getLong(a + 48)
                    | Native.getLong(a + 56)) != 0) {
                return false;
            }
        }
        return true;
    }

    private static void pwriteFully(Fd fd, long address, long length, long fileOffset) {
        while (length > 0) {
            long n = Native.LIBC.pwrite(fd.fd(), address, length, fileOffset);
            if (n < 0) {
                int e = Native.errno();
                if (e == Errno.EINTR) {
                    continue;
                }
                throw new ErrnoException("pwrite", e, "offset " + fileOffset + " length " + length);
            }
            if (n == 0) { // not for a regular file; a device that takes nothing would loop for ever
                throw new ErrnoException("pwrite", Errno.ENOSPC, "offset " + fileOffset + " wrote nothing");
            }
            address += n;
            length -= n;
            fileOffset += n;
        }
    }

    /**
     * Replaces guest RAM with {@code file}, a dump made by {@link #writeTo} of a memory with the same ranges: each
     * region's anonymous mapping is replaced in place (mmap {@code MAP_PRIVATE | MAP_FIXED}, same host address) by the
     * file at the region's offset. The mapping is copy-on-write: the guest's (and the VMM's) writes go to private
     * copies and never reach the file, and pages fault in from the file when first touched, so restoring takes the
     * same time whatever the size of guest RAM. Whatever the memory held before is discarded.
     *
     * <p>Call it before {@link #registerSlots} (KVM keeps translations of the old pages; this refuses otherwise). The
     * file must stay unchanged as long as the memory lives: the guest reads every page it has not written from it
     * (a truncated file makes those reads fault with SIGBUS); {@link #writeTo} refuses it for that reason. The file
     * descriptor is closed before this returns (the mappings keep the file open).
     *
     * <p>Transparent huge pages do not apply to such private file mappings: the page cache is mapped, and copied on
     * write, in 4 KiB pages, so a restored guest runs on small pages where a fresh one gets 2 MiB ones.
     *
     * <p>The {@link Mmap} objects that own the regions still unmap them correctly: a region is still one address
     * range {@code [hostAddress, hostAddress + size)}, now mapped from the file, and {@link Mmap#close()} unmaps that
     * range whatever is mapped there.
     *
     * @throws VmCoreException with reason {@code INVALID} naming the file, the expected and the actual size when the
     *         file's size is not exactly {@link #size()}, the memory untouched; reason {@code IO} when the file cannot
     *         be opened or mapped (a mapping failure puts zeroed anonymous memory back at the same addresses)
     */
    public synchronized void mapPrivate(Path file) {
        requireOpen("map " + file + " as guest RAM");
        if (!slots.isEmpty()) {
            throw new VmCoreException(VmCoreException.Reason.INVALID, "cannot map " + file + " as guest RAM: the memory"
                    + " is registered with KVM already (" + slots.size() + " slots); map the file before registerSlots");
        }
        try (Fd fd = Fd.open(file.toString(), Native.O_RDONLY)) {
            long actual = Native.LIBC.lseek(fd.fd(), 0, Native.SEEK_END);
            if (actual < 0) {
                throw new ErrnoException("lseek(SEEK_END)", Native.errno(), null);
            }
            long expected = size();
            if (actual != expected) {
                throw new VmCoreException(VmCoreException.Reason.INVALID, String.format("cannot map %s as guest RAM: "
                        + "it is %d bytes, guest RAM is %d bytes (%d regions); not a dump of this memory",
                        file, actual, expected, regions.length));
            }
            Object key = openFileKey(fd);
            long offset = 0;
            for (int i = 0; i < regions.length; i++) {
                Region r = regions[i];
                long a = Native.LIBC.mmap(r.hostAddress(), r.size(), RAM_PROT,
                        Native.MAP_PRIVATE | Native.MAP_FIXED | Native.MAP_NORESERVE, fd.fd(), offset);
                if (a == Native.MAP_FAILED) {
                    ErrnoException e = new ErrnoException("mmap", Native.errno(), String.format(
                            "region gpa=0x%x size=0x%x at file offset %d", r.guestPhysAddr(), r.size(), offset));
                    remapAnonymous(e);
                    throw e;
                }
                offset += r.size();
            }
            setBackingFile(key);
        } catch (ErrnoException e) {
            throw new VmCoreException(VmCoreException.Reason.IO, "cannot map " + file + " as guest RAM: "
                    + e.getMessage(), e);
        }
    }

    /**
     * After a failed MAP_FIXED, puts zeroed anonymous memory back over every region (a failed MAP_FIXED may have
     * unmapped the old pages already, the regions before it are mapped from the new file and those after it may be
     * mapped from an older one), so that every region is mapped at its address again and no file backs the memory.
     */
    private void remapAnonymous(ErrnoException cause) {
        for (int i = 0; i < regions.length; i++) {
            Region r = regions[i];
            long a = Native.LIBC.mmap(r.hostAddress(), r.size(), RAM_PROT,
                    Native.MAP_PRIVATE | Native.MAP_ANONYMOUS | Native.MAP_NORESERVE | Native.MAP_FIXED, -1, 0);
            if (a == Native.MAP_FAILED) {
                cause.addSuppressed(new ErrnoException("mmap", Native.errno(), String.format(
                        "putting anonymous memory back at gpa=0x%x: guest RAM has a hole; close it", r.guestPhysAddr())));
            } else if (r.size() >= HUGE_PAGE) {
                Native.LIBC.madvise(a, r.size(), Native.MADV_HUGEPAGE);
            }
        }
        setBackingFile(null);
    }

    private void requireOpen(String what) {
        if (closed) {
            throw new VmCoreException(VmCoreException.Reason.INVALID, "cannot " + what + ": guest RAM is closed");
        }
    }

    /** Device and inode of {@code file}, or null when it does not exist or cannot be read. */
    private static Object existingFileKey(Path file) {
        try {
            return Files.readAttributes(file, BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null; // no such file yet, or open(2) will say what is wrong
        }
    }

    /** Device and inode of the file open as {@code fd} (the /proc link leads to the open file, not a path). */
    private static Object openFileKey(Fd fd) {
        try {
            return Files.readAttributes(Path.of("/proc/self/fd/" + fd.fd()), BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            throw new VmCoreException(VmCoreException.Reason.IO, "cannot stat " + fd.name() + ": " + e.getMessage(), e);
        }
    }

    private static boolean isBackingFile(Object key) {
        synchronized (BACKING_FILES) {
            return BACKING_FILES.containsKey(key);
        }
    }

    /** Records {@code key} (or nothing) as the file behind this memory, instead of the previous one. */
    private void setBackingFile(Object key) {
        synchronized (BACKING_FILES) {
            if (backingFile != null) {
                BACKING_FILES.computeIfPresent(backingFile, (k, n) -> n == 1 ? null : n - 1);
            }
            backingFile = key;
            if (key != null) {
                BACKING_FILES.merge(key, 1, Integer::sum);
            }
        }
    }

    // ---- dirty page tracking (live migration) ----

    /**
     * Turns dirty page tracking on, for one owner (a migration): re-registers every memory slot {@link #registerSlots}
     * made with {@link KvmConstants#KVM_MEM_LOG_DIRTY_PAGES} through {@code sink} (the VM's
     * KVM_SET_USER_MEMORY_REGION, as for registerSlots), so that KVM logs the guest's writes, and starts the record of
     * the VMM's own writes ({@link #markDirtyHost}), empty. Both start empty: the first round copies everything
     * ({@link #allPages}) after this returns, and each {@link #harvestDirty} then returns what was written since the
     * previous one (or since this call).
     *
     * <p>Memory without slots (no KVM) only records the VMM's writes. A VMM write whose mark found logging still off
     * was done before this call published the record; the first round, which starts after this returns, copies it.
     *
     * @throws VmCoreException with reason {@code INVALID} when logging is on already (it has one owner) or the memory
     *         is closed; when a slot cannot be re-registered the slots done so far are put back without the flag,
     *         logging stays off and the sink's exception is thrown
     */
    public void startDirtyLog(MemorySlotSink sink) {
        startDirtyLogLocked(sink);
        try {
            for (Runnable l : dirtyLogListeners) {
                l.run(); // a writer that cannot log would make the migration miss its pages: fail it
            }
        } catch (RuntimeException e) {
            try {
                stopDirtyLog(sink);
            } catch (RuntimeException e2) {
                e.addSuppressed(e2);
            }
            throw e;
        }
    }

    private synchronized void startDirtyLogLocked(MemorySlotSink sink) {
        requireOpen("start dirty logging");
        if (deviceDirty != null) {
            throw new VmCoreException(VmCoreException.Reason.INVALID, "dirty logging is on already (it has one owner)");
        }
        long[][] d = new long[regions.length][];
        for (int i = 0; i < regions.length; i++) {
            d[i] = new long[DirtyBitmap.wordsFor(regions[i].size() / PAGE)];
        }
        int done = 0;
        try {
            for (MemorySlot s : slots) {
                s.setFlags(sink, s.flags() | KvmConstants.KVM_MEM_LOG_DIRTY_PAGES);
                done++;
            }
        } catch (RuntimeException e) {
            for (int i = done - 1; i >= 0; i--) {
                MemorySlot s = slots.get(i);
                try {
                    s.setFlags(sink, s.flags() & ~KvmConstants.KVM_MEM_LOG_DIRTY_PAGES);
                } catch (RuntimeException e2) {
                    e.addSuppressed(e2);
                }
            }
            throw e;
        }
        kvmBitmaps = new NativeBuffer[slots.size()];
        if (kernelLog == null) {
            long bytes = 8L * DirtyBitmap.wordsFor(Math.max(1, (regions[regions.length - 1].end() + PAGE - 1) / PAGE));
            kernelLog = Mmap.anonymous((bytes + PAGE - 1) & -PAGE, "dirty-log");
            kernelLogView = Native.directBuffer(kernelLog.address(), (int) kernelLog.length());
        } else {
            Native.fill(kernelLog.address(), kernelLog.length(), (byte) 0);
        }
        deviceDirty = d;
        kernelLogAddress = kernelLog.address();
        log.debug("dirty logging on: {} slots, {} regions", slots.size(), regions.length);
    }

    /**
     * Turns dirty page tracking off: re-registers the slots without {@link KvmConstants#KVM_MEM_LOG_DIRTY_PAGES} through
     * {@code sink} and drops the record of the VMM's writes ({@link #markDirtyHost} is a no-op again). Does nothing when
     * logging is off. Every slot is tried; the first failure is thrown after the others (logging is off all the same).
     */
    public void stopDirtyLog(MemorySlotSink sink) {
        boolean wasOn = dirtyLogging();
        try {
            stopDirtyLogLocked(sink);
        } finally {
            if (wasOn) {
                notifyDirtyLogListeners();
            }
        }
    }

    private synchronized void stopDirtyLogLocked(MemorySlotSink sink) {
        if (deviceDirty == null) {
            return;
        }
        deviceDirty = null;
        kernelLogAddress = 0;
        freeKvmBitmaps();
        RuntimeException first = null;
        for (MemorySlot s : slots) {
            try {
                s.setFlags(sink, s.flags() & ~KvmConstants.KVM_MEM_LOG_DIRTY_PAGES);
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        log.debug("dirty logging off");
        if (first != null) {
            throw first;
        }
    }

    private void freeKvmBitmaps() {
        if (kvmBitmaps != null) {
            for (NativeBuffer b : kvmBitmaps) {
                if (b != null) {
                    b.close();
                }
            }
            kvmBitmaps = null;
        }
    }

    /**
     * Registers {@code listener} to run after dirty logging turns on ({@link #startDirtyLog}, before it returns, so
     * before the first round copies anything; an exception it throws turns logging off again and fails the start)
     * and after it turns off (an exception is logged), on the thread that turned it, holding no lock
     * of this object. It reads the new state from {@link #kernelLogAddress()}. A writer that registers and then reads
     * the state cannot miss a change: either its read sees it or the change's notification finds it registered (it
     * may get both, so it must be idempotent).
     */
    public void addDirtyLogListener(Runnable listener) {
        dirtyLogListeners.add(listener);
    }

    public void removeDirtyLogListener(Runnable listener) {
        dirtyLogListeners.remove(listener);
    }

    private void notifyDirtyLogListeners() {
        for (Runnable l : dirtyLogListeners) {
            try {
                l.run();
            } catch (RuntimeException e) {
                log.warn("dirty log listener {} failed: {}", l, e.toString());
            }
        }
    }

    /**
     * While dirty logging is on, the host address of the kernel log: a bitmap with one bit per 4 KiB guest-physical
     * page from address 0 (64-bit little-endian words), the format of VHOST_SET_LOG_BASE, covering every region
     * ({@link #kernelLogSize()} bytes). A writer outside the JVM sets bits there atomically; {@link #harvestDirty}
     * takes and clears them. 0 while logging is off.
     */
    public long kernelLogAddress() {
        return kernelLogAddress;
    }

    /** Bytes of the kernel log (0 before logging was first turned on). */
    public synchronized long kernelLogSize() {
        return kernelLog == null ? 0 : kernelLog.length();
    }

    /** Whether dirty logging is on (one volatile read): devices may test it once before marking several ranges. */
    public boolean dirtyLogging() {
        return deviceDirty != null;
    }

    /**
     * Records that the VMM wrote {@code [hostAddress, hostAddress + length)} of guest RAM, by host address (what the
     * devices hold): the pages it touches are in the next {@link #harvestDirty}. Call it <em>after</em> the write
     * (a harvest that runs between the write and the mark misses it this round and finds it the next; the last round
     * runs with the devices quiesced, when every mark is in). Parts outside guest RAM are ignored; a range may span
     * regions. Thread-safe and lock-free (an atomic OR per 64 pages); while logging is off it is one volatile read.
     */
    public void markDirtyHost(long hostAddress, long length) {
        long[][] d = deviceDirty;
        if (d == null || length <= 0) {
            return;
        }
        long end = hostAddress + length;
        if (end < hostAddress) { // overflow: a nonsense length; clamp
            end = Long.MAX_VALUE;
        }
        for (int i = 0; i < regions.length; i++) {
            Region r = regions[i];
            long lo = Math.max(hostAddress, r.hostAddress());
            long hi = Math.min(end, r.hostAddress() + r.size());
            if (lo < hi) {
                setBits(d[i], (lo - r.hostAddress()) / PAGE, (hi - 1 - r.hostAddress()) / PAGE);
            }
        }
    }

    /**
     * Sets bits {@code [first, last]}. Always an atomic OR, even when the bits look set already: the OR orders the
     * write being marked before a harvest that clears the word (a plain read could see the bit before that harvest's
     * clear while the write is not yet visible to the harvest's copy of the page).
     */
    private static void setBits(long[] words, long first, long last) {
        int w0 = (int) (first >>> 6), w1 = (int) (last >>> 6);
        for (int w = w0; w <= w1; w++) {
            long mask = -1L;
            if (w == w0) {
                mask &= -1L << first; // shifts are mod 64
            }
            if (w == w1) {
                mask &= -1L >>> (63 - (last & 63));
            }
            WORDS.getAndBitwiseOr(words, w, mask);
        }
    }

    /**
     * The pages written since the previous harvest (or since {@link #startDirtyLog}), one {@link DirtyBitmap} per
     * region in guest-physical order: KVM's dirty log of the region's slot (the guest's writes; fetched through
     * {@code kvm} into a native buffer kept per slot) OR-ed with the record of the VMM's writes, each word of which is
     * taken and cleared atomically. KVM_GET_DIRTY_LOG clears KVM's log as it reads it (and write-protects the pages
     * again), so both sources restart empty: what this returns has to be sent, there is no second look.
     *
     * @param kvm KVM's dirty logs, normally {@code VmFd::getDirtyLog}; null to take the VMM's record alone (memory
     *            without slots has no KVM log either way)
     * @throws VmCoreException with reason {@code INVALID} when logging is off
     */
    public synchronized List<DirtyBitmap> harvestDirty(DirtyLogSource kvm) {
        long[][] d = deviceDirty;
        if (d == null) {
            throw new VmCoreException(VmCoreException.Reason.INVALID, "dirty logging is off; startDirtyLog first");
        }
        long[][] out = new long[regions.length][];
        for (int i = 0; i < regions.length; i++) {
            out[i] = new long[d[i].length];
        }
        if (kvm != null) {
            for (int s = 0; s < slots.size(); s++) {
                MemorySlot slot = slots.get(s);
                int i = regionOf(slot);
                long[] o = out[i];
                NativeBuffer b = kvmBitmaps[s];
                if (b == null) {
                    b = kvmBitmaps[s] = new NativeBuffer(8L * o.length);
                }
                b.clear(); // the kernel writes every byte; a source that writes less must not leave stale bits
                kvm.getDirtyLog(slot.slot(), b.address());
                for (int w = 0; w < o.length; w++) {
                    o[w] |= b.getLong(8L * w);
                }
            }
        }
        List<DirtyBitmap> result = new ArrayList<>(regions.length);
        for (int i = 0; i < regions.length; i++) {
            long[] dev = d[i], o = out[i];
            for (int w = 0; w < dev.length; w++) {
                // a word read as 0 is left alone: a mark after this read stays for the next harvest
                if ((long) WORDS.getVolatile(dev, w) != 0) {
                    o[w] |= (long) WORDS.getAndSet(dev, w, 0L);
                }
            }
            takeKernelLog(regions[i], o);
            o[o.length - 1] &= lastWordMask(regions[i]); // a source that reports pages past the region
            result.add(new DirtyBitmap(regions[i], o));
        }
        return result;
    }

    /**
     * ORs the kernel log's bits for region {@code r} into {@code o} (the region's bitmap, bit 0 = its first page),
     * taking each non-zero word with an atomic get-and-set 0 so that a bit the kernel sets meanwhile stays for the
     * next harvest. A region whose start is not a multiple of 64 pages takes its bits one word-straddling pair at a
     * time (both words taken whole; the other region's bits are put back with an OR).
     */
    private void takeKernelLog(Region r, long[] o) {
        ByteBuffer view = kernelLogView;
        long firstPage = r.guestPhysAddr() / PAGE;
        int shift = (int) (firstPage & 63);
        long pages = r.size() / PAGE;
        int base = (int) (firstPage >>> 6);
        int words = (int) ((firstPage + pages + 63) >>> 6) - base;
        for (int k = 0; k < words; k++) {
            int at = (base + k) * 8;
            if ((long) LOG_WORDS.getVolatile(view, at) == 0) {
                continue;
            }
            long w = (long) LOG_WORDS.getAndSet(view, at, 0L);
            // page firstPage + j of the log is bit j of the region: word k holds region bits [64k - shift, 64k + 64 - shift)
            long mine = w;
            if (k == 0 && shift != 0) {
                mine &= -1L << shift;
            }
            long lastPage = firstPage + pages; // exclusive
            if (base + k == (int) ((lastPage - 1) >>> 6) && (lastPage & 63) != 0) {
                mine &= -1L >>> (64 - (lastPage & 63));
            }
            if (mine != w) {
                LOG_WORDS.getAndBitwiseOr(view, at, w & ~mine); // another region's bits: leave them in the log
            }
            if (shift == 0) {
                o[k] |= mine;
            } else {
                int lo = 64 * k - shift; // region bit of this word's bit 0
                if (lo >= 0) {
                    o[lo >>> 6] |= mine << (lo & 63);
                    if ((lo & 63) != 0 && (lo >>> 6) + 1 < o.length) {
                        o[(lo >>> 6) + 1] |= mine >>> (64 - (lo & 63));
                    }
                } else {
                    o[0] |= mine >>> shift; // k == 0
                }
            }
        }
    }

    /** The region a slot of {@link #registerSlots} maps (same host address and size). */
    private int regionOf(MemorySlot slot) {
        for (int i = 0; i < regions.length; i++) {
            if (regions[i].hostAddress() == slot.hostAddress() && regions[i].size() == slot.size()) {
                return i;
            }
        }
        throw new IllegalStateException("memory slot " + slot.slot() + " maps no region");
    }

    /** Valid bits of the last bitmap word of {@code r}. */
    private static long lastWordMask(Region r) {
        long pages = r.size() / PAGE;
        int rem = (int) (pages & 63);
        return rem == 0 ? -1L : (1L << rem) - 1;
    }

    /** Every page of guest RAM, one {@link DirtyBitmap} per region: the first round of a pre-copy migration. */
    public List<DirtyBitmap> allPages() {
        List<DirtyBitmap> result = new ArrayList<>(regions.length);
        for (Region r : regions) {
            long[] w = new long[DirtyBitmap.wordsFor(r.size() / PAGE)];
            java.util.Arrays.fill(w, -1L);
            w[w.length - 1] = lastWordMask(r);
            result.add(new DirtyBitmap(r, w));
        }
        return result;
    }

    /**
     * Removes the memory slots, then unmaps the memory (KVM must stop referencing it first). Each region is unmapped
     * by the {@link Mmap} that created it, also after {@link #mapPrivate} replaced its pages by a file's.
     */
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
        deviceDirty = null;
        kernelLogAddress = 0;
        freeKvmBitmaps();
        if (kernelLog != null) {
            kernelLog.close();
            kernelLog = null;
            kernelLogView = null;
        }
        maps.forEach(Mmap::close);
        closed = true;
        setBackingFile(null);
        if (first != null) {
            throw first;
        }
    }
}

package dev.jvmm.virtio.blk.qcow2;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.blk.BlockConstants;
import dev.jvmm.virtio.VirtioException;
import java.nio.ByteBuffer;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A qcow2 image (versions 2 and 3, as docs/interop/qcow2.txt in QEMU's tree describes them): L1/L2 mapping,
 * refcounts of any width (refcount_order 0..6), zero clusters, zlib compressed clusters (read), a backing image that
 * unallocated clusters are read from, allocation on first write with copy of the rest of the cluster from below.
 *
 * <p><b>Memory.</b> The L1 table and the refcount table are held whole (at most 32 MiB and 8 MiB, as QEMU
 * allows); L2 tables and refcount blocks go through fixed caches of 4 KiB slices ({@link SliceCache}). Buffers
 * for assembling a cluster and for compressed data are made once. Nothing is allocated per request.
 *
 * <p><b>Allocation and crash safety.</b> New clusters are taken from the end of the file, never from holes left
 * by discards while the image is open, so a request still in flight to a freed cluster cannot land in a cluster
 * that something else uses now. They are <em>reserved</em> in batches: refcounts set to 1, the file extended over
 * them, fdatasync (at once, or before the next L2 slice is written: {@link #reserve}); only then may an L2 entry
 * point at one. An L2 table is written (zeroed) and synced before the
 * L1 entry points at it. Data is written before the L2 entry that makes it visible, except where the cluster read
 * as zeroes and the new one does too (it lies past the end the file had before the reservation extended it): there
 * the L2 entry is set as the write is mapped (written at once, or at the next flush: {@link #deferFreshL2}), and the
 * data goes straight from guest memory. A cluster is freed by first
 * clearing its L2 entry, then lowering its refcount. So a crash (of jvmm or of the host) at any moment leaves an
 * image that {@code qemu-img check} accepts: at worst leaked clusters (the unused part of a reservation, a cluster
 * whose refcount was not yet lowered), never a reference to a cluster with a refcount too low. Refcounts are always
 * kept exact (jvmm never uses lazy refcounts), so the image is never marked dirty; a dirty image (left by QEMU with
 * lazy_refcounts=on) has its refcounts rebuilt when it is opened for writing.
 *
 * <p><b>Hostile images.</b> Every offset read from the image is checked before use: cluster-aligned where the format
 * says so, reserved bits clear, inside the file (or in clusters jvmm allocated), off the header, the L1 table and
 * the refcount table. A violation found at open refuses the image; one found on the data path fails that request
 * with EIO (logged, rate-limited). Nothing is read or written outside the file's own clusters.
 *
 * <p><b>Threads.</b> All methods take the image's lock: queue threads of a multiqueue disk translate one at a time;
 * the transfers themselves (HOST ranges) run outside it, on the engines.
 */
public final class Qcow2Image implements DiskImage {
    private static final Logger log = LoggerFactory.getLogger(Qcow2Image.class);
    static final long COPIED = 1L << 63, COMPRESSED = 1L << 62, ZERO_FLAG = 1;
    /** Bits 9..55: a host offset in an L1 entry, a standard L2 entry or (all of bits 9..63) a refcount table entry. */
    static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    static final long L1_RESERVED = 0x7f00_0000_0000_01ffL;
    static final long L2_RESERVED = 0x3f00_0000_0000_01feL;
    private static final int EROFS = 30;
    private static final int SLICE = 4096;
    private static final long L2_CACHE_BYTES = 1 << 20, RB_CACHE_BYTES = 256 << 10;
    /**
     * A reservation covers 4 MiB at first and twice the last one's bytes each time (up to 64 MiB or RESERVE_MAX
     * clusters): a guest that writes a lot pays at most one fdatasync per 64 MiB, not per 4 MiB; a crash leaks at
     * most one reservation (refcounts of 1 that nothing points at), and a clean close gives the rest back.
     */
    private static final int RESERVE_MAX = 2048;
    private static final long RESERVE_FIRST = 4L << 20, RESERVE_MOST = 64L << 20;
    /** Clusters one {@link #mapFresh} call allocates at most. */
    private static final int FRESH_MAX = 256;

    final String path;
    private final Fd fd;
    final Qcow2Header h;
    private final DiskImage backing;
    final boolean readOnly;
    /** fdatasync at the ordering points (not with cache=unsafe). */
    private final boolean sync;
    final int cb;
    final long cs;
    final int l2Bits;
    final int order;
    final int rbShift;
    final int slice;
    private final Mmap hdr;
    private final Mmap l1;
    private Mmap rt;
    long rtEntries;
    private final SliceCache l2c;
    private final SliceCache rbc;
    private final Mmap work;
    private final Mmap zeroes;
    private Mmap zin, zout;
    private ByteBuffer zinBuf, zoutBuf;
    private long zoutEntry = -1;
    private final Inflater inflater = new Inflater(true);
    /** What a failed read of compressed data names (made once: the read runs per compressed cluster). */
    private final String compressedWhat;
    private final Mapping scratch = new Mapping();
    /** Bytes: the file's size (as jvmm knows it, including what it extended). */
    long fileSize;
    /** Host offsets below this are inside the file or in clusters jvmm allocated: anything else is refused. */
    long validEnd;
    /** The first cluster the next reservation looks at. */
    private long nextFree;
    private final long[] reserved = new long[RESERVE_MAX];
    private int resHead, resTail;
    /**
     * Clusters of the current reservation from this one on lie past the end the file had before the reservation
     * extended it: nothing was ever written there, so they read as zeroes.
     */
    private long resZeroFrom;
    /** Whether the L2 entries {@link #mapFresh} sets wait for the next flush (see {@link #deferFreshL2}). */
    private boolean deferFreshL2;
    /** Bytes the next reservation covers. */
    private long reserveBytes = RESERVE_FIRST;
    /** The current reservation was taken lazily: its refcounts (and the file's new size) are not synced yet. */
    private boolean refsUnsynced;

    private boolean closed;
    private long errors;

    Qcow2Image(String path, Fd fd, Qcow2Header h, DiskImage backing, boolean readOnly, boolean sync) {
        this.path = path;
        this.fd = fd;
        this.h = h;
        this.backing = backing;
        this.readOnly = readOnly;
        this.sync = sync;
        this.cb = h.clusterBits;
        this.cs = 1L << cb;
        this.l2Bits = cb - 3;
        this.order = h.refcountOrder;
        this.rbShift = cb + 3 - order;
        this.slice = (int) Math.min(cs, SLICE);
        this.fileSize = ImageIo.size(fd.fd(), path);
        this.compressedWhat = path + " compressed cluster";
        this.validEnd = roundUp(fileSize);
        this.nextFree = validEnd >>> cb;
        Mmap hd = null, a = null, r = null, w = null, z = null;
        SliceCache c1 = null, c2 = null;
        try {
            hd = Mmap.anonymous(slice, path + " header");
            ImageIo.preadZeroTail(fd.fd(), hd.address(), slice, 0, path + " header");
            long l1Bytes = Math.max(slice, ((long) h.l1Size * 8 + slice - 1) / slice * slice);
            a = Mmap.anonymous(l1Bytes, path + " L1");
            ImageIo.preadZeroTail(fd.fd(), a.address(), l1Bytes, h.l1TableOffset, path + " L1 table");
            long rtBytes = (long) h.refcountTableClusters << cb;
            r = Mmap.anonymous(rtBytes, path + " refcount table");
            ImageIo.preadZeroTail(fd.fd(), r.address(), rtBytes, h.refcountTableOffset, path + " refcount table");
            c1 = new SliceCache(fd.fd(), path + " L2", slice, (int) Math.max(16, L2_CACHE_BYTES / slice),
                    this::l2Ready);
            c2 = new SliceCache(fd.fd(), path + " refcount block", slice, (int) Math.max(8, RB_CACHE_BYTES / slice),
                    () -> { });
            w = Mmap.anonymous(cs, path + " cluster");
            z = Mmap.anonymous(cs, path + " zeroes");
        } catch (RuntimeException e) {
            for (AutoCloseable x : new AutoCloseable[] {hd, a, r, c1, c2, w, z}) {
                closeQuietly(x);
            }
            inflater.end();
            throw e;
        }
        this.hdr = hd;
        this.l1 = a;
        this.rt = r;
        this.rtEntries = ((long) h.refcountTableClusters << cb) / 8;
        this.l2c = c1;
        this.rbc = c2;
        this.work = w;
        this.zeroes = z;
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // cleanup after a failed open
            }
        }
    }

    /** Once built: what opening for writing needs (a clean header, refcounts rebuilt if the image is dirty). */
    void prepare() {
        if (readOnly) {
            if ((h.incompatible & Qcow2Header.INCOMPAT_DIRTY) != 0) {
                log.warn("{}: the image is marked dirty (lazy refcounts); reading it as it is", path);
            }
            if ((h.incompatible & Qcow2Header.INCOMPAT_CORRUPT) != 0) {
                log.warn("{}: the image is marked corrupt; reading it read-only", path);
            }
            return;
        }
        if ((h.incompatible & Qcow2Header.INCOMPAT_CORRUPT) != 0) {
            throw Qcow2Header.bad(path, "the image is marked corrupt; repair it with 'jvmm img check -r all " + path
                    + "' (or 'qemu-img check -r all'), or open it with readonly=on");
        }
        if (h.nbSnapshots > 0) {
            throw Qcow2Header.bad(path, "the image has " + h.nbSnapshots + " internal snapshot(s), which jvmm does not "
                    + "support for writing; open it with readonly=on, or delete them with 'qemu-img snapshot -d'");
        }
        if ((h.incompatible & Qcow2Header.INCOMPAT_DIRTY) != 0) {
            if (h.hasBitmaps) {
                throw Qcow2Header.bad(path, "the image is marked dirty and has persistent bitmaps; repair it with "
                        + "'qemu-img check -r all " + path + "'");
            }
            log.warn("{}: the image is marked dirty (left open with lazy refcounts); rebuilding its refcounts", path);
            Qcow2Check.Result res = Qcow2Check.run(this, Qcow2Check.Repair.ALL, null);
            if (res.corruptions() > 0) {
                throw Qcow2Header.bad(path, "the image is dirty and " + res.corruptions() + " corruption(s) remain after "
                        + "rebuilding its refcounts; run 'qemu-img check -r all " + path + "'");
            }
            log.info("{}: refcounts rebuilt ({} leaked and {} missing refcounts fixed)", path, res.fixedLeaks(),
                    res.fixedCorruptions());
            syncNow();
            setHeaderField64(Qcow2Header.INCOMPATIBLE_FEATURES, h.incompatible & ~Qcow2Header.INCOMPAT_DIRTY);
            h.incompatible &= ~Qcow2Header.INCOMPAT_DIRTY;
        }
        if (h.version == 3 && h.autoclear != 0) {
            // qcow2 spec: a writer must clear the auto-clear bits it does not maintain (bitmaps become inconsistent)
            setHeaderField64(Qcow2Header.AUTOCLEAR_FEATURES, 0);
            h.autoclear = 0;
        }
        syncNow();
    }

    /** After a repair that left no corruption: clears the dirty and corrupt bits (v3). */
    void clearDirtyAndCorrupt() {
        long bits = Qcow2Header.INCOMPAT_DIRTY | Qcow2Header.INCOMPAT_CORRUPT;
        if (h.version == 3 && (h.incompatible & bits) != 0) {
            syncNow();
            setHeaderField64(Qcow2Header.INCOMPATIBLE_FEATURES, h.incompatible & ~bits);
            h.incompatible &= ~bits;
            syncNow();
        }
    }

    /** Writes one 8-byte header field (the whole first slice, so that O_DIRECT takes it). */
    private void setHeaderField64(int off, long v) {
        ImageIo.putBE64(hdr.address() + off, v);
        ImageIo.pwriteFully(fd.fd(), hdr.address(), slice, 0, path + " header");
    }

    private void syncNow() {
        if (sync) {
            ImageIo.fdatasync(fd.fd(), path);
        }
    }

    long roundUp(long bytes) {
        return (bytes + cs - 1) & -cs;
    }

    // ---- DiskImage ----

    @Override
    public long size() {
        return h.size;
    }

    @Override
    public String format() {
        return "qcow2";
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public DiskImage backing() {
        return backing;
    }

    @Override
    public int fd() {
        return fd.fd();
    }

    public long clusterSize() {
        return cs;
    }

    /** The header as read at open (version, features, backing name and format...). */
    Qcow2Header header() {
        return h;
    }

    @Override
    public synchronized void map(long off, long len, boolean write, Mapping m) {
        try {
            mapLocked(off, len, write, m);
        } catch (RuntimeException e) {
            m.error(errno(e, "map", off, len), Math.min(len, cs - (off & (cs - 1))));
        }
    }

    private void mapLocked(long off, long len, boolean write, Mapping m) {
        long in = off & (cs - 1);
        long ci = off >>> cb;
        long n = Math.min(len, cs - in);
        long e = entry(ci);
        if (write) {
            if (readOnly) {
                m.error(EROFS, n);
            } else if (owned(e)) {
                m.host(fd.fd(), (e & OFFSET_MASK) + in, extendHost(ci, e, n, len, true));
            } else if (fresh(e)) {
                mapFresh(ci, in, len, m);
            } else {
                m.inline(this, n);
            }
            return;
        }
        if ((e & COMPRESSED) != 0) {
            m.inline(this, n);
        } else if ((e & ZERO_FLAG) != 0 || ((e & OFFSET_MASK) == 0 && backing == null)) {
            long k = ci + 1;
            while (n < len) {
                long e2 = entry(k++);
                if (!((e2 & COMPRESSED) == 0 && ((e2 & ZERO_FLAG) != 0 || ((e2 & OFFSET_MASK) == 0 && backing == null)))) {
                    break;
                }
                n = Math.min(len, n + cs);
            }
            m.zero(n);
        } else if ((e & OFFSET_MASK) != 0) {
            m.host(fd.fd(), (e & OFFSET_MASK) + in, extendHost(ci, e, n, len, false));
        } else if (off >= backing.size()) {
            m.zero(n);
        } else {
            backing.map(off, Math.min(n, backing.size() - off), false, m);
        }
    }

    /** How far a host range that starts in cluster {@code ci} goes on contiguously (up to {@code len}). */
    private long extendHost(long ci, long e, long n, long len, boolean write) {
        long base = e & OFFSET_MASK;
        for (long k = 1; n < len && k < 512; k++) {
            long e2 = entry(ci + k);
            boolean same = write ? owned(e2) : (e2 & (COMPRESSED | ZERO_FLAG)) == 0;
            if (!same || (e2 & OFFSET_MASK) != base + (k << cb)) {
                break;
            }
            n = Math.min(len, n + cs);
        }
        return n;
    }

    /**
     * A cluster with no host cluster that reads as zeroes (unallocated without a backing file, or a zero cluster
     * without a preallocated one): a write to it needs no copy of what it held.
     */
    private boolean fresh(long e) {
        return (e & (COMPRESSED | OFFSET_MASK)) == 0 && ((e & ZERO_FLAG) != 0 || backing == null);
    }

    /** A standard cluster this image alone owns (refcount 1): written in place. */
    private static boolean owned(long e) {
        return (e & (COPIED | COMPRESSED | ZERO_FLAG)) == COPIED && (e & OFFSET_MASK) != 0;
    }

    @Override
    public synchronized int read(long off, long len, long dst) {
        try {
            readLocked(off, len, dst);
            return 0;
        } catch (RuntimeException e) {
            return -errno(e, "read", off, len);
        }
    }

    private void readLocked(long off, long len, long dst) {
        while (len > 0) {
            mapLocked(off, len, false, scratch);
            long n = scratch.length;
            switch (scratch.kind) {
                case Mapping.HOST -> ImageIo.preadZeroTail(scratch.fd, dst, n, scratch.hostOffset, path);
                case Mapping.ZERO -> Native.fill(dst, n, (byte) 0);
                case Mapping.INLINE -> {
                    if (scratch.image == this) {
                        readCompressed(off, n, dst);
                    } else {
                        DiskImage b = scratch.image;
                        int r = b.read(off, n, dst);
                        if (r < 0) {
                            throw new ErrnoException("read", -r, b.path() + " at " + off);
                        }
                    }
                }
                default -> throw new ErrnoException("map", scratch.errno, path + " at " + off);
            }
            off += n;
            dst += n;
            len -= n;
        }
    }

    @Override
    public synchronized int write(long off, long len, long src) {
        if (readOnly) {
            return -EROFS;
        }
        try {
            writeLocked(off, len, src);
            return 0;
        } catch (RuntimeException e) {
            return -errno(e, "write", off, len);
        }
    }

    private void writeLocked(long off, long len, long src) {
        while (len > 0) {
            long in = off & (cs - 1);
            long ci = off >>> cb;
            long n = Math.min(len, cs - in);
            long e = entry(ci);
            if (owned(e)) {
                ImageIo.pwriteFully(fd.fd(), src, n, (e & OFFSET_MASK) + in, path);
            } else if (fresh(e)) {
                mapFresh(ci, in, len, scratch);
                n = scratch.length;
                ImageIo.pwriteFully(fd.fd(), src, n, scratch.hostOffset, path);
            } else {
                writeCluster(ci, in, n, src, e);
            }
            off += n;
            src += n;
            len -= n;
        }
    }

    /**
     * A write from cluster {@code ci} on over clusters that are {@link #fresh}: each gets a new cluster and its L2
     * entry (written now, or at the next flush), and {@code m} is the host range of the new clusters that are
     * contiguous from the first, for the data to go straight there (from guest memory, on the engines). No order is
     * needed between the data and the L2 entries: a new cluster past the file's old end reads as zeroes, as the
     * cluster did before, until the data lands; one below it (not expected: reservations start at the file's end) is
     * zeroed and synced first.
     */
    private void mapFresh(long ci, long in, long len, Mapping m) {
        // the L2 entries are read and set in place in the cached slice, which stays put while this runs (only a
        // lookup of another L2 slice evicts one); each slice changed is marked once, when the loop leaves it
        long tableMask = (1L << l2Bits) - 1, sliceMask = (slice >>> 3) - 1; // entry index within a table, a slice
        long first = 0, n = 0, at = 0, addr = 0;
        int k = 0;
        try {
            while (n < len && k < FRESH_MAX) {
                long c = ci + k;
                if (k == 0 || (c & sliceMask) == 0) {
                    if (addr != 0) {
                        l2c.touched(at, false);
                        addr = 0;
                    }
                    at = l2ForWrite(c) + ((c & tableMask) << 3);
                    addr = l2c.address(at);
                } else {
                    addr += 8;
                }
                if (k > 0) {
                    long e = ImageIo.getBE64(addr);
                    checkEntry(e, c);
                    if (!fresh(e)) {
                        break;
                    }
                }
                long target = allocCluster();
                if ((target >>> cb) < resZeroFrom) {
                    ImageIo.pwriteFully(fd.fd(), zeroes.address(), cs, target, path);
                    syncNow();
                }
                if (k == 0) {
                    first = target;
                }
                ImageIo.putBE64(addr, target | COPIED);
                if (target != first + ((long) k << cb)) {
                    break; // allocated and pointed at, but not next to the others: the next map call takes it
                }
                n = Math.min(len, n + cs - (k == 0 ? in : 0));
                k++;
            }
        } finally {
            if (addr != 0) {
                l2c.touched(at, false);
            }
        }
        if (!deferFreshL2) {
            l2c.writeBack();
        }
        m.host(fd.fd(), first + in, n);
    }

    /**
     * A write to a cluster this image does not own yet (unallocated, zero, compressed, shared): the cluster is
     * assembled (what it read before, with the new bytes over it), written to a newly reserved cluster (or to its
     * own preallocated one), then the L2 entry points at it, then the old cluster's refcount is lowered.
     */
    private void writeCluster(long ci, long in, long n, long src, long e) {
        long l2 = l2ForWrite(ci);
        boolean reuse = (e & COMPRESSED) == 0 && (e & COPIED) != 0 && (e & OFFSET_MASK) != 0;
        long target = reuse ? e & OFFSET_MASK : allocCluster();
        long data = src;
        if (n < cs) {
            long vstart = ci << cb;
            if (reuse) {
                Native.fill(work.address(), cs, (byte) 0); // its only other state is a zero cluster
            } else {
                long have = Math.max(0, Math.min(cs, h.size - vstart));
                readLocked(vstart, have, work.address());
                if (have < cs) {
                    Native.fill(work.address() + have, cs - have, (byte) 0);
                }
            }
            Native.copy(src, work.address() + in, n);
            data = work.address();
        }
        ImageIo.pwriteFully(fd.fd(), data, cs, target, path);
        l2c.putLong(l2 + ((ci & ((1L << l2Bits) - 1)) << 3), target | COPIED, true);
        if (!reuse) {
            release(e);
        }
    }

    /** The L2 table of {@code ci} for a write: allocated (zeroed, synced) if missing; its L1 entry marked COPIED. */
    private long l2ForWrite(long ci) {
        long l1i = ci >>> l2Bits;
        if (l1i >= h.l1Size) {
            throw corrupt("cluster " + ci + " is beyond the L1 table");
        }
        long e = l1Entry(l1i);
        long off = e & OFFSET_MASK;
        if (off == 0) {
            off = allocCluster();
            l2c.invalidate(off, cs);
            ImageIo.pwriteFully(fd.fd(), zeroes.address(), cs, off, path + " new L2 table");
            syncAllocated(); // the table's content and refcount before the L1 entry that points at it
            setL1(l1i, off | COPIED);
        } else if ((e & COPIED) == 0) {
            long rc = refcount(off >>> cb);
            if (rc != 1) {
                throw unsupported("the L2 table at " + off + " is shared (refcount " + rc
                        + "); internal snapshots are not supported for writing");
            }
            setL1(l1i, e | COPIED);
        }
        return off;
    }

    private void setL1(long l1i, long v) {
        long a = l1.address() + l1i * 8;
        ImageIo.putBE64(a, v);
        long sliceOff = (l1i * 8) & -(long) slice;
        ImageIo.pwriteFully(fd.fd(), l1.address() + sliceOff, slice, h.l1TableOffset + sliceOff, path + " L1 table");
    }

    /** Lowers the refcounts of the host clusters an old L2 entry used (after that entry was overwritten). */
    private void release(long e) {
        if ((e & COMPRESSED) != 0) {
            long start = compressedStart(e), len = compressedLength(e);
            for (long c = start >>> cb; c <= (start + len - 1) >>> cb; c++) {
                decref(c, false);
            }
        } else if ((e & OFFSET_MASK) != 0) {
            decref((e & OFFSET_MASK) >>> cb, true);
        }
    }

    private void decref(long c, boolean punch) {
        long rc = refcount(c);
        if (rc == 0) {
            throw corrupt("the refcount of cluster " + c + " (at " + (c << cb) + ") is already 0 while it is in use");
        }
        setRefcount(c, rc - 1, true);
        if (rc == 1 && punch) {
            // give the space back to the filesystem; the cluster is not reused while the image is open
            Native.LIBC.fallocate(fd.fd(), BlockConstants.FALLOC_FL_PUNCH_HOLE | BlockConstants.FALLOC_FL_KEEP_SIZE,
                    c << cb, cs);
        }
    }

    @Override
    public synchronized int discard(long off, long len) {
        return zeroOrDiscard(off, len, false);
    }

    @Override
    public synchronized int writeZeroes(long off, long len, boolean unmap) {
        return zeroOrDiscard(off, len, true);
    }

    /**
     * Whole clusters get a new L2 entry (unallocated where nothing shows through, else the zero flag on v3), their
     * old clusters freed after the L2 slice is written; partial clusters are written with zeroes (write-zeroes) or
     * left alone (discard).
     */
    private int zeroOrDiscard(long off, long len, boolean zero) {
        if (readOnly) {
            return -EROFS;
        }
        long pendingSlice = -1;
        int pendingCount = 0;
        long[] pending = pendingOld;
        try {
            while (len > 0) {
                long in = off & (cs - 1);
                long ci = off >>> cb;
                long n = Math.min(len, cs - in);
                boolean whole = in == 0 && (n == cs || off + n >= h.size);
                if (!whole) {
                    if (zero) {
                        writeLocked(off, n, zeroes.address());
                    }
                } else {
                    long e = entry(ci);
                    long ne;
                    if (!zero || backing == null) {
                        ne = backing == null || h.version == 2 ? 0 : ZERO_FLAG;
                    } else {
                        ne = h.version == 3 ? ZERO_FLAG : -1;
                    }
                    if (ne == -1) {
                        // v2 has no zero flag: over a backing file, zeroes must be written
                        writeLocked(off, n, zeroes.address());
                    } else if (e != ne && !(ne == 0 && e == 0)) {
                        long l2 = l2ForWrite(ci);
                        long at = l2 + ((ci & ((1L << l2Bits) - 1)) << 3);
                        long s = at & -(long) slice;
                        if (s != pendingSlice || pendingCount == pending.length) {
                            pendingCount = flushPending(pending, pendingCount);
                            pendingSlice = s;
                        }
                        l2c.putLong(at, ne, false);
                        pending[pendingCount++] = e;
                    }
                }
                off += n;
                len -= n;
            }
            flushPending(pending, pendingCount);
            return 0;
        } catch (RuntimeException e) {
            return -errno(e, zero ? "write-zeroes" : "discard", off, len);
        }
    }

    private final long[] pendingOld = new long[SLICE / 8];

    /** Writes the changed L2 slice(s), then frees what their old entries used. */
    private int flushPending(long[] pending, int count) {
        if (count > 0) {
            l2c.writeBack();
            for (int i = 0; i < count; i++) {
                release(pending[i]);
            }
        }
        return 0;
    }

    @Override
    public synchronized int flush() {
        try {
            if (!readOnly) {
                handBack();
            }
        } catch (RuntimeException e) {
            return -errno(e, "flush", 0, 0);
        }
        if (!sync) {
            return 0;
        }
        return Native.LIBC.fdatasync(fd.fd()) == 0 ? 0 : -Native.errno();
    }

    /**
     * For a disk with a volatile write cache (every cache mode but writethrough): the L2 entries of first writes to
     * clusters that read as zeroes are written back at the next flush ({@link #writeBack}, {@link #flush}, close)
     * or when their slice leaves the cache, not with each request, as QEMU keeps its L2 cache. Their order against
     * the data does not matter (the new cluster reads as zeroes until the data lands); a write that completed but was
     * not flushed may be lost when jvmm is killed, as the guest allows for such a disk, and a flushed one is not.
     */
    public synchronized void deferFreshL2(boolean on) {
        deferFreshL2 = on;
    }

    @Override
    public synchronized int writeBack() {
        try {
            writeBackTables();
            return 0;
        } catch (RuntimeException e) {
            return -errno(e, "metadata write-back", 0, 0);
        }
    }

    /** What the image holds for itself goes to the file: the unused reservation back, the cached tables written. */
    private void handBack() {
        unreserve();
        writeBackTables();
    }

    private void writeBackTables() {
        l2c.writeBack();
        rbc.writeBack();
    }

    @Override
    public synchronized void reload() {
        if (resHead != resTail) {
            throw new IllegalStateException(path + ": reload with clusters reserved");
        }
        long size = ImageIo.size(fd.fd(), path);
        Qcow2Header n = Images.readHeader(fd.fd(), path);
        if (n.version != h.version || n.clusterBits != h.clusterBits || n.size != h.size || n.l1Size != h.l1Size
                || n.l1TableOffset != h.l1TableOffset || n.incompatible != h.incompatible
                || n.refcountOrder != h.refcountOrder || n.nbSnapshots != h.nbSnapshots) {
            throw Qcow2Header.bad(path, "the image changed in a way jvmm does not follow while it was open (version,"
                    + " size, clusters, L1 table, features or snapshots)");
        }
        // another writer (jvmm) may have grown the refcount table and extended the file; nothing else moves
        long rtBytes = (long) n.refcountTableClusters << cb;
        Mmap nrt = rtBytes == rt.length() ? rt : Mmap.anonymous(rtBytes, path + " refcount table");
        try {
            ImageIo.preadZeroTail(fd.fd(), nrt.address(), rtBytes, n.refcountTableOffset, path + " refcount table");
            ImageIo.preadZeroTail(fd.fd(), l1.address(), l1.length(), h.l1TableOffset, path + " L1 table");
            ImageIo.preadZeroTail(fd.fd(), hdr.address(), hdr.length(), 0, path + " header");
        } catch (RuntimeException e) {
            if (nrt != rt) {
                nrt.close();
            }
            throw e;
        }
        if (nrt != rt) {
            rt.close();
            rt = nrt;
        }
        h.refcountTableOffset = n.refcountTableOffset;
        h.refcountTableClusters = n.refcountTableClusters;
        rtEntries = rtBytes / 8;
        l2c.invalidate(0, Long.MAX_VALUE);
        rbc.invalidate(0, Long.MAX_VALUE);
        zoutEntry = -1;
        fileSize = size;
        validEnd = roundUp(size);
        nextFree = validEnd >>> cb;
        reserveBytes = RESERVE_FIRST;
        refsUnsynced = false;
    }

    // ---- metadata access ----

    long l1Entry(long l1i) {
        long e = ImageIo.getBE64(l1.address() + l1i * 8);
        if ((e & L1_RESERVED) != 0) {
            throw corrupt(String.format("L1 entry %d (0x%016x) has reserved bits set", l1i, e));
        }
        long off = e & OFFSET_MASK;
        if (off != 0) {
            checkCluster(off, "L2 table of L1 entry", l1i);
        }
        return e;
    }

    /** The (checked) L2 entry of guest cluster {@code ci}, 0 when its L2 table is not allocated. */
    long entry(long ci) {
        long l1i = ci >>> l2Bits;
        if (l1i >= h.l1Size) {
            return 0;
        }
        long l2 = l1Entry(l1i) & OFFSET_MASK;
        if (l2 == 0) {
            return 0;
        }
        long e = l2c.getLong(l2 + ((ci & ((1L << l2Bits) - 1)) << 3));
        checkEntry(e, ci);
        return e;
    }

    void checkEntry(long e, long ci) {
        if (e == 0) {
            return;
        }
        if ((e & COMPRESSED) != 0) {
            if ((e & COPIED) != 0) {
                throw corrupt(String.format("L2 entry of cluster %d (0x%016x) is compressed and marked COPIED", ci, e));
            }
            long start = compressedStart(e), len = compressedLength(e);
            if (start < cs || start + len > validEnd) {
                throw corrupt(String.format("compressed cluster %d at %d (+%d) lies outside the file (%d bytes)", ci,
                        start, len, fileSize));
            }
            return;
        }
        if ((e & L2_RESERVED) != 0 || (h.version == 2 && (e & ZERO_FLAG) != 0)) {
            throw corrupt(String.format("L2 entry of cluster %d (0x%016x) has reserved bits set", ci, e));
        }
        long off = e & OFFSET_MASK;
        if (off != 0) {
            checkCluster(off, "data cluster", ci);
        }
    }

    /** The byte offset of a compressed cluster's data in the file. */
    long compressedOffset(long e) {
        return e & ((1L << (62 - (cb - 8))) - 1);
    }

    /** Where a compressed cluster's data starts, counted in whole sectors: the sector that holds its offset. */
    long compressedStart(long e) {
        return compressedOffset(e) & ~511L;
    }

    /** The bytes from {@link #compressedStart} on that hold a compressed cluster's data (whole sectors). */
    long compressedLength(long e) {
        int x = 62 - (cb - 8);
        return (((e >>> x) & ((1L << (cb - 8)) - 1)) + 1) * 512;
    }

    /**
     * A host cluster offset from the image: aligned, past the header, inside the file, off the fixed tables. The
     * error names {@code kind} and {@code index}, put together only then: this runs for every cluster a request
     * touches, which must not allocate.
     */
    void checkCluster(long off, String kind, long index) {
        String p = clusterProblem(off);
        if (p != null) {
            throw corrupt(kind + " " + index + " at " + off + p);
        }
    }

    private String clusterProblem(long off) {
        if ((off & (cs - 1)) != 0) {
            return " is not cluster-aligned";
        }
        if (off < cs) {
            return " overlaps the header";
        }
        if (off >= validEnd) {
            return " lies past the end of the file (" + fileSize + " bytes)";
        }
        if (Qcow2Header.overlap(off, cs, h.l1TableOffset, (long) h.l1Size * 8)) {
            return " overlaps the L1 table";
        }
        if (Qcow2Header.overlap(off, cs, h.refcountTableOffset, (long) h.refcountTableClusters << cb)) {
            return " overlaps the refcount table";
        }
        return null;
    }

    long refcountBlock(long ri) {
        long e = ImageIo.getBE64(rt.address() + ri * 8);
        if ((e & 511) != 0) {
            throw corrupt(String.format("refcount table entry %d (0x%016x) has reserved bits set", ri, e));
        }
        if (e != 0) {
            checkCluster(e, "refcount block", ri);
        }
        return e;
    }

    /** A new, zeroed refcount block for table entry {@code ri}, placed in a freshly reserved cluster (repair). */
    void newRefcountBlock(long ri) {
        long off = allocCluster();
        rbc.invalidate(off, cs);
        ImageIo.pwriteFully(fd.fd(), zeroes.address(), cs, off, path + " new refcount block");
        syncAllocated();
        setRefcountBlock(ri, off);
    }

    /** Rewrites an L2 entry (repair of its COPIED flag). */
    void setL2Entry(long l2, long idx, long v) {
        l2c.putLong(l2 + (idx << 3), v, true);
    }

    /** Rewrites an L1 entry (repair of its COPIED flag). */
    void setL1Entry(long l1i, long v) {
        setL1(l1i, v);
    }

    long rawL1(long l1i) {
        return ImageIo.getBE64(l1.address() + l1i * 8);
    }

    long rawRefcountTable(long ri) {
        return ImageIo.getBE64(rt.address() + ri * 8);
    }

    int rawFd() {
        return fd.fd();
    }

    void setRefcountBlock(long ri, long off) {
        ImageIo.putBE64(rt.address() + ri * 8, off);
        long sliceOff = (ri * 8) & -(long) slice;
        ImageIo.pwriteFully(fd.fd(), rt.address() + sliceOff, slice, h.refcountTableOffset + sliceOff,
                path + " refcount table");
    }

    long refcount(long c) {
        long ri = c >>> rbShift;
        if (ri >= rtEntries) {
            return 0;
        }
        long rb = refcountBlock(ri);
        if (rb == 0) {
            return 0;
        }
        long idx = c & ((1L << rbShift) - 1);
        long bytes = (idx << order) >>> 3;
        return loadRefcount(rbc.address(rb + bytes) - bytes, idx);
    }

    /** The refcount of entry {@code idx} in the refcount block (or slice) at {@code block}. */
    private long loadRefcount(long block, long idx) {
        long bit = idx << order;
        long a = block + (bit >>> 3);
        return switch (order) {
            case 0, 1, 2 -> (Native.getByte(a) >>> (bit & 7)) & ((1 << (1 << order)) - 1);
            case 3 -> Native.getByte(a) & 0xff;
            case 4 -> Short.reverseBytes(Native.getShort(a)) & 0xffff;
            case 5 -> Integer.reverseBytes(Native.getInt(a)) & 0xffffffffL;
            default -> ImageIo.getBE64(a);
        };
    }

    long maxRefcount() {
        return order == 6 ? Long.MAX_VALUE : (1L << (1 << order)) - 1;
    }

    /** Sets a refcount whose refcount block exists; written at once or at the next write-back. */
    void setRefcount(long c, long v, boolean now) {
        if (v < 0 || v > maxRefcount()) {
            throw corrupt("refcount overflow: cluster " + c + " would get refcount " + v + " (at most "
                    + maxRefcount() + " with refcount_bits " + (1 << order) + ")");
        }
        long ri = c >>> rbShift;
        long rb = ri < rtEntries ? refcountBlock(ri) : 0;
        if (rb == 0) {
            throw new IllegalStateException("no refcount block for cluster " + c);
        }
        long idx = c & ((1L << rbShift) - 1);
        long at = rb + ((idx << order) >>> 3);
        storeRefcount(rbc.address(at) - ((idx << order) >>> 3), idx, v);
        rbc.touched(at, now);
    }

    void writeBackRefcounts() {
        rbc.writeBack();
    }

    /** Stores refcount {@code v} of entry {@code idx} in the refcount block (or slice) at {@code a}. */
    private void storeRefcount(long block, long idx, long v) {
        long bit = idx << order;
        long a = block + (bit >>> 3);
        switch (order) {
            case 0, 1, 2 -> {
                int mask = ((1 << (1 << order)) - 1) << (bit & 7);
                int b = Native.getByte(a) & ~mask | ((int) v << (bit & 7)) & mask;
                Native.putByte(a, (byte) b);
            }
            case 3 -> Native.putByte(a, (byte) v);
            case 4 -> Native.putShort(a, Short.reverseBytes((short) v));
            case 5 -> Native.putInt(a, Integer.reverseBytes((int) v));
            default -> ImageIo.putBE64(a, v);
        }
    }

    /**
     * Makes sure cluster {@code c} has a refcount block. Returns {@code c} when it has one and is free to take;
     * otherwise the clusters from {@code c} were used for refcount structures and the next one to look at is
     * returned: a missing block is made <em>at</em> {@code c}, counting itself (so no other cluster is needed); a full
     * refcount table is replaced by a larger one at {@code c} ({@link #growRefcountTable}).
     */
    long ensureRefcountBlock(long c) {
        long ri = c >>> rbShift;
        if (ri >= rtEntries) {
            return growRefcountTable(c);
        }
        if (refcountBlock(ri) != 0) {
            return c;
        }
        long off = c << cb;
        rbc.invalidate(off, cs);
        ImageIo.pwriteFully(fd.fd(), zeroes.address(), cs, off, path + " new refcount block");
        fileSize = Math.max(fileSize, off + cs);
        validEnd = Math.max(validEnd, off + cs);
        // the block counts itself before the table points at it
        long idx = c & ((1L << rbShift) - 1);
        long at = off + ((idx << order) >>> 3);
        storeRefcount(rbc.address(at) - ((idx << order) >>> 3), idx, 1);
        rbc.touched(at, true);
        syncNow();
        setRefcountBlock(ri, off);
        return c + 1;
    }

    /**
     * The refcount table is full: a larger one (twice the size, or what cluster {@code a} needs) is written at
     * clusters {@code a..}, followed by the refcount blocks that it and it alone needs, all counted; synced; then the
     * header points at it (one write of the first header slice), synced; then the old table's clusters are freed.
     * Returns the first cluster after the new structures.
     */
    private long growRefcountTable(long a) {
        rbc.writeBack();
        long perBlock = 1L << rbShift;
        long entries = Math.max(rtEntries * 2, (a >>> rbShift) + 2);
        long tc;
        long e;
        long k = 0;
        for (;;) {
            tc = (entries * 8 + cs - 1) >>> cb;
            e = a + tc + k;
            long missing = 0;
            for (long ri = a / perBlock; ri <= (e - 1) / perBlock; ri++) {
                if (ri >= rtEntries || refcountBlock(ri) == 0) {
                    missing++;
                }
            }
            long needEntries = (e - 1) / perBlock + 1;
            if (missing == k && needEntries <= entries) {
                break;
            }
            k = missing;
            entries = Math.max(entries, needEntries + 1);
        }
        long bytes = tc << cb;
        if (bytes > Qcow2Header.MAX_REFTABLE_BYTES) {
            throw unsupported("the refcount table would exceed 8 MiB (" + bytes + " bytes); the image cannot grow "
                    + "further with " + cs + "-byte clusters");
        }
        Mmap nt = Mmap.anonymous(bytes, path + " refcount table");
        try {
            Native.copy(rt.address(), nt.address(), rtEntries * 8);
            // new blocks after the table, for every block index of [a, e) that has none
            long b = a + tc;
            for (long ri = a / perBlock; ri <= (e - 1) / perBlock; ri++) {
                if (ri < rtEntries && refcountBlock(ri) != 0) {
                    for (long c = Math.max(a, ri * perBlock); c < Math.min(e, (ri + 1) * perBlock); c++) {
                        setRefcount(c, 1, false);
                    }
                    continue;
                }
                Native.fill(work.address(), cs, (byte) 0);
                for (long c = Math.max(a, ri * perBlock); c < Math.min(e, (ri + 1) * perBlock); c++) {
                    storeRefcount(work.address(), c - ri * perBlock, 1);
                }
                rbc.invalidate(b << cb, cs);
                ImageIo.pwriteFully(fd.fd(), work.address(), cs, b << cb, path + " new refcount block");
                ImageIo.putBE64(nt.address() + ri * 8, b << cb);
                b++;
            }
            rbc.writeBack();
            ImageIo.pwriteFully(fd.fd(), nt.address(), bytes, a << cb, path + " new refcount table");
            fileSize = Math.max(fileSize, e << cb);
            validEnd = Math.max(validEnd, e << cb);
            syncNow();
        } catch (RuntimeException x) {
            nt.close();
            throw x;
        }
        long oldOff = h.refcountTableOffset;
        long oldClusters = h.refcountTableClusters;
        ImageIo.putBE64(hdr.address() + Qcow2Header.REFCOUNT_TABLE_OFFSET, a << cb);
        Native.putInt(hdr.address() + Qcow2Header.REFCOUNT_TABLE_CLUSTERS, Integer.reverseBytes((int) tc));
        ImageIo.pwriteFully(fd.fd(), hdr.address(), slice, 0, path + " header");
        syncNow();
        Mmap old = rt;
        rt = nt;
        rtEntries = bytes / 8;
        h.refcountTableOffset = a << cb;
        h.refcountTableClusters = (int) tc;
        old.close();
        for (long c = oldOff >>> cb; c < (oldOff >>> cb) + oldClusters; c++) {
            decref(c, true);
        }
        log.info("{}: refcount table grown to {} clusters at {}", path, tc, a << cb);
        return e;
    }

    /** A cluster with refcount 1 that nothing points at yet (from the current reservation). */
    long allocCluster() {
        if (resHead == resTail) {
            reserve();
        }
        return reserved[resHead++] << cb;
    }

    /**
     * Reserves a batch of free clusters at the end of the file: refcounts 1 (written), file extended, synced. With
     * {@link #deferFreshL2} the refcounts' write and the sync wait until an L2 slice is about to be written
     * ({@link #l2Ready}) or an L1 entry ({@link #syncAllocated}): a guest that writes a lot between its flushes pays
     * no fdatasync for its allocations, only the one before its flush's L2 write-back. The file is extended here,
     * not by the data landing past its end: ext4 serializes writes that extend a file (and makes each wait for its
     * completion), but runs O_DIRECT writes inside it in parallel.
     */
    private void reserve() {
        int want = (int) Math.max(2, Math.min(RESERVE_MAX, reserveBytes >>> cb));
        reserveBytes = Math.min(RESERVE_MOST, reserveBytes * 2);
        resHead = resTail = 0;
        // past the file's end now, nothing was ever written; the refcount blocks (or a grown refcount table) the
        // scan may write there have refcounts, so they are never reserved
        long zeroFrom = roundUp(fileSize) >>> cb;
        int n = 0;
        long c = nextFree;
        // the refcounts are read and set in place in the cached slice of their block, marked once when the scan
        // leaves it; at each slice (and so each block) boundary the block is made sure of
        long sliceEntries = ((long) slice << 3) >>> order, blockMask = (1L << rbShift) - 1;
        long key = -1, base = 0;
        try {
            while (n < want) {
                if (key < 0 || (c & (sliceEntries - 1)) == 0) {
                    if (key >= 0) {
                        rbc.touched(key, false);
                        key = -1;
                    }
                    long next = ensureRefcountBlock(c);
                    if (next != c) {
                        c = next;
                        continue;
                    }
                    long head = ((c & blockMask) & -sliceEntries) << order >>> 3; // the slice's offset in its block
                    key = refcountBlock(c >>> rbShift) + head;
                    base = rbc.address(key) - head;
                }
                long idx = c & blockMask;
                if (loadRefcount(base, idx) == 0) {
                    storeRefcount(base, idx, 1);
                    reserved[n++] = c;
                }
                c++;
            }
        } finally {
            // also when the scan fails half-way: what it set is written with the slice (leaks, never lost counts)
            if (key >= 0) {
                rbc.touched(key, false);
            }
        }
        nextFree = c;
        // lazily (deferFreshL2), the refcounts stay in their cached slices until l2Ready or syncAllocated writes
        // them: one write per slice for many reservations
        if (!deferFreshL2) {
            rbc.writeBack();
        }
        long end = c << cb;
        if (end > fileSize) {
            if (Native.LIBC.ftruncate(fd.fd(), end) != 0) {
                throw new ErrnoException("ftruncate", Native.errno(), path);
            }
            fileSize = end;
        }
        validEnd = Math.max(validEnd, end);
        if (deferFreshL2) {
            refsUnsynced = true;
        } else {
            syncNow(); // refcounts on disk before any L2 entry points at these clusters
        }
        // handed out only now: a reservation that failed half-way leaves leaks (refcounts of 1), never a cluster
        // used before its refcount is on disk
        resTail = n;
        resZeroFrom = zeroFrom;
    }

    /**
     * Runs before any L2 slice is written: a lazy reservation's refcounts and the file's new size go to disk first,
     * so a crash never leaves an L2 entry pointing at a cluster whose refcount is 0 or that lies past the file's end.
     */
    private void l2Ready() {
        if (refsUnsynced) {
            rbc.writeBack();
            syncNow();
            refsUnsynced = false;
        }
    }

    /**
     * Before metadata outside the L2 cache (an L1 entry, a refcount table entry) points at a cluster just taken from
     * the reservation: what was written to it, and a lazy reservation's refcounts, on disk.
     */
    private void syncAllocated() {
        if (refsUnsynced) {
            l2Ready();
        } else {
            syncNow();
        }
    }

    /** Gives back the reserved clusters not used (refcount 0) and trims the file over those at its end. */
    void unreserve() {
        if (resHead == resTail) {
            return;
        }
        for (int i = resHead; i < resTail; i++) {
            setRefcount(reserved[i], 0, false);
        }
        rbc.writeBack();
        int i = resTail - 1;
        if (reserved[i] == nextFree - 1) {
            while (i > resHead && reserved[i - 1] == reserved[i] - 1) {
                i--;
            }
            long end = reserved[i] << cb;
            if (end < fileSize && Native.LIBC.ftruncate(fd.fd(), end) == 0) {
                fileSize = end;
            }
        }
        resHead = resTail = 0;
    }

    // ---- compressed clusters ----

    private void readCompressed(long off, long n, long dst) {
        long ci = off >>> cb;
        long e = entry(ci);
        if ((e & COMPRESSED) == 0) {
            throw new IllegalStateException("cluster " + ci + " is not compressed");
        }
        if (e != zoutEntry) {
            inflate(e, ci);
        }
        Native.copy(zout.address() + (off & (cs - 1)), dst, n);
    }

    private void inflate(long e, long ci) {
        if (zin == null) {
            zin = Mmap.anonymous(2 * cs + 4096, path + " compressed");
            zout = Mmap.anonymous(cs, path + " decompressed");
            zinBuf = Native.directBuffer(zin.address(), (int) (2 * cs + 4096));
            zoutBuf = Native.directBuffer(zout.address(), (int) cs);
        }
        long start = compressedStart(e), len = compressedLength(e);
        long skip = compressedOffset(e) - start;
        ImageIo.preadZeroTail(fd.fd(), zin.address(), len, start, compressedWhat);
        zoutEntry = -1;
        inflater.reset();
        zinBuf.limit((int) len).position((int) skip);
        zoutBuf.clear();
        inflater.setInput(zinBuf);
        try {
            while (zoutBuf.hasRemaining()) {
                int got = inflater.inflate(zoutBuf);
                if (got == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
            }
        } catch (DataFormatException x) {
            throw corrupt("compressed cluster " + ci + " at " + compressedOffset(e) + " does not inflate: "
                    + x.getMessage());
        }
        if (zoutBuf.hasRemaining()) {
            throw corrupt("compressed cluster " + ci + " at " + compressedOffset(e) + " inflates to "
                    + zoutBuf.position() + " bytes, not a whole cluster of " + cs);
        }
        zoutEntry = e;
    }

    // ---- errors ----

    VirtioException corrupt(String what) {
        return new VirtioException(VirtioException.Reason.IMAGE, path + ": corrupt image: " + what);
    }

    VirtioException unsupported(String what) {
        return new VirtioException(VirtioException.Reason.IMAGE, path + ": " + what);
    }

    /** The errno a data-path failure answers with (logged, rate-limited). */
    private int errno(RuntimeException e, String op, long off, long len) {
        errors++;
        if (errors <= 10 || Long.bitCount(errors) == 1) {
            log.warn("{}: {} at {} (+{}) failed: {} ({} errors so far)", path, op, off, len, e.getMessage(), errors);
        }
        if (e instanceof ErrnoException x) {
            return x.errno();
        }
        return Errno.EIO;
    }

    /** Errors the data path met (corrupt metadata, I/O errors). */
    public synchronized long errors() {
        return errors;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (!readOnly) {
                handBack();
                syncNow();
            }
        } catch (RuntimeException e) {
            log.warn("{}: closing: {}", path, e.getMessage());
        } finally {
            for (AutoCloseable x : new AutoCloseable[] {hdr, l1, rt, l2c, rbc, work, zeroes, zin, zout}) {
                closeQuietly(x);
            }
            inflater.end();
            fd.close();
            if (backing != null) {
                backing.close();
            }
        }
    }

    @Override
    public String toString() {
        return path + " (qcow2 v" + h.version + ", " + h.size + " bytes, cluster " + cs
                + (backing != null ? ", backing " + backing.path() : "") + ")";
    }
}

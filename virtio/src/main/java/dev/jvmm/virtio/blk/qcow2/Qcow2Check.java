package dev.jvmm.virtio.blk.qcow2;

import dev.jvmm.sys.Mmap;
import java.io.PrintStream;

/**
 * Consistency check (and repair) of a qcow2 image, the facts {@code qemu-img check} looks at: every cluster's stored
 * refcount against the references found by walking the header, the L1 table, the L2 tables, the refcount table and
 * its blocks; offsets that are unaligned or past the end of the file; the COPIED flag of L1 and L2 entries against
 * the refcounts. A refcount above the references is a leak (space wasted, no harm); below, or any bad offset, is a
 * corruption. Repair sets refcounts to the references ({@link Repair#LEAKS}: only those too high; {@link Repair#ALL}:
 * all, adding refcount blocks where missing) and fixes COPIED flags ({@link Repair#ALL}); then it checks again.
 * Images with internal snapshots or persistent bitmaps are refused (their extra references are not walked).
 */
public final class Qcow2Check {
    public enum Repair { NONE, LEAKS, ALL }

    /**
     * What a check found (after a repair: what the second check found) and what the repair fixed.
     *
     * @param imageEnd end of the last cluster in use (QEMU's "image end offset")
     */
    public record Result(long corruptions, long leaks, long fixedLeaks, long fixedCorruptions, long allocatedClusters,
            long totalClusters, long imageEnd) {
        /** qemu-img check's exit code: 0 clean, 2 corruptions, 3 leaks only. */
        public int exitCode() {
            return corruptions > 0 ? 2 : leaks > 0 ? 3 : 0;
        }
    }

    private final Qcow2Image img;
    private final PrintStream out;
    private final long cs;
    private final int cb;
    private long corruptions, leaks, fixedLeaks, fixedCorruptions;
    private int[] refs;
    private long nClusters;

    private Qcow2Check(Qcow2Image img, PrintStream out) {
        this.img = img;
        this.out = out;
        this.cs = img.cs;
        this.cb = img.cb;
    }

    /** Checks {@code img} (opened for writing when {@code repair} is not NONE), printing findings to {@code out}. */
    public static Result run(Qcow2Image img, Repair repair, PrintStream out) {
        synchronized (img) {
            Qcow2Header h = img.header();
            if (h.nbSnapshots > 0) {
                throw img.unsupported("the image has internal snapshots, which jvmm's check does not walk; use "
                        + "'qemu-img check'");
            }
            if (h.hasBitmaps) {
                throw img.unsupported("the image has persistent bitmaps, which jvmm's check does not walk; use "
                        + "'qemu-img check'");
            }
            if (repair != Repair.NONE && img.readOnly) {
                throw new IllegalArgumentException(img.path + ": repair needs the image opened for writing");
            }
            Qcow2Check c = new Qcow2Check(img, out);
            Result first = c.pass(repair);
            if (repair == Repair.NONE || c.fixedLeaks + c.fixedCorruptions == 0) {
                return first;
            }
            img.unreserve();
            Qcow2Check again = new Qcow2Check(img, null);
            Result second = again.pass(Repair.NONE);
            return new Result(second.corruptions(), second.leaks(), c.fixedLeaks, c.fixedCorruptions,
                    second.allocatedClusters(), second.totalClusters(), second.imageEnd());
        }
    }

    private void say(String s) {
        if (out != null) {
            out.println(s);
        }
    }

    private void corruption(String s) {
        corruptions++;
        say("ERROR " + s);
    }

    private Result pass(Repair repair) {
        Qcow2Header h = img.header();
        nClusters = img.roundUp(img.fileSize) >>> cb;
        if (nClusters > (1L << 28)) {
            throw img.unsupported("the file has " + nClusters + " clusters, too many for jvmm's in-memory check; use "
                    + "'qemu-img check'");
        }
        refs = new int[(int) nClusters];
        long allocated = 0;
        ref(0, cs, "header");
        ref(h.l1TableOffset, (long) h.l1Size * 8, "L1 table");
        ref(h.refcountTableOffset, (long) h.refcountTableClusters << cb, "refcount table");
        try (Mmap l2 = Mmap.anonymous(cs, img.path + " check")) {
            for (long i = 0; i < h.l1Size; i++) {
                long e = img.rawL1(i);
                if ((e & Qcow2Image.L1_RESERVED) != 0) {
                    corruption(String.format("L1 entry %d (0x%016x) has reserved bits set", i, e));
                    continue;
                }
                long off = e & Qcow2Image.OFFSET_MASK;
                if (off == 0) {
                    continue;
                }
                if (!cluster(off, "L2 table of L1 entry " + i)) {
                    continue;
                }
                ImageIo.preadZeroTail(img.rawFd(), l2.address(), cs, off, img.path + " L2 table");
                for (long j = 0; j < cs / 8; j++) {
                    long x = ImageIo.getBE64(l2.address() + j * 8);
                    if (x == 0) {
                        continue;
                    }
                    long guest = ((i << img.l2Bits) + j) << cb;
                    if ((x & Qcow2Image.COMPRESSED) != 0) {
                        long start = img.compressedStart(x), len = img.compressedLength(x);
                        allocated++;
                        if (start < cs || start + len > nClusters << cb) {
                            corruption(String.format("compressed cluster at guest offset %d: data at %d (+%d) lies "
                                    + "outside the file", guest, img.compressedOffset(x), len));
                            continue;
                        }
                        ref(start, len, "compressed data");
                        continue;
                    }
                    if ((x & Qcow2Image.L2_RESERVED) != 0 || (h.version == 2 && (x & 1) != 0)) {
                        corruption(String.format("L2 entry for guest offset %d (0x%016x) has reserved bits set",
                                guest, x));
                        continue;
                    }
                    long d = x & Qcow2Image.OFFSET_MASK;
                    if (d != 0) {
                        allocated++;
                        cluster(d, "data cluster for guest offset " + guest);
                    } else if ((x & 1) != 0) {
                        allocated++;
                    }
                }
            }
        }
        for (long ri = 0; ri < img.rtEntries; ri++) {
            long e = img.rawRefcountTable(ri);
            if (e == 0) {
                continue;
            }
            if ((e & 511) != 0) {
                corruption(String.format("refcount table entry %d (0x%016x) has reserved bits set", ri, e));
                continue;
            }
            cluster(e, "refcount block " + ri);
        }
        compare(repair);
        copiedFlags(repair);
        long end = 0;
        for (long c = nClusters - 1; c >= 0; c--) {
            if (refs[(int) c] > 0) {
                end = (c + 1) << cb;
                break;
            }
        }
        return new Result(corruptions, leaks, fixedLeaks, fixedCorruptions, allocated,
                (img.size() + cs - 1) >>> cb, end);
    }

    /** Counts a reference to the cluster at {@code off} after checking it; false if it is unusable. */
    private boolean cluster(long off, String what) {
        if ((off & (cs - 1)) != 0) {
            corruption(what + " at " + off + " is not cluster-aligned");
            return false;
        }
        if ((off >>> cb) >= nClusters) {
            corruption(what + " at " + off + " lies past the end of the file");
            return false;
        }
        ref(off, cs, what);
        return true;
    }

    private void ref(long off, long len, String what) {
        if (len <= 0) {
            return;
        }
        for (long c = off >>> cb; c <= (off + len - 1) >>> cb; c++) {
            if (c >= nClusters) {
                corruption(what + " at " + off + " lies past the end of the file");
                return;
            }
            refs[(int) c]++;
        }
    }

    private void compare(Repair repair) {
        long max = img.maxRefcount();
        for (long c = 0; c < nClusters; c++) {
            long want = refs[(int) c];
            long have;
            try {
                have = img.refcount(c);
            } catch (RuntimeException e) {
                corruption("cluster " + c + ": cannot read its refcount: " + e.getMessage());
                continue;
            }
            if (have == want) {
                continue;
            }
            boolean leak = have > want;
            if (want > max) {
                corruption("cluster " + c + " refcount=" + have + " reference=" + want + " (refcount overflow: at most "
                        + max + ")");
                continue;
            }
            boolean fix = leak ? repair != Repair.NONE : repair == Repair.ALL;
            if (!fix) {
                if (leak) {
                    leaks++;
                    say("Leaked cluster " + c + " refcount=" + have + " reference=" + want);
                } else {
                    corruption("cluster " + c + " refcount=" + have + " reference=" + want);
                }
                continue;
            }
            say("Repairing cluster " + c + " refcount=" + have + " reference=" + want);
            try {
                long ri = c >>> img.rbShift;
                if (ri >= img.rtEntries) {
                    throw img.unsupported("cluster " + c + " is beyond the refcount table (repair with qemu-img)");
                }
                if (img.refcountBlock(ri) == 0) {
                    img.newRefcountBlock(ri);
                }
                img.setRefcount(c, want, false);
                if (leak) {
                    fixedLeaks++;
                } else {
                    fixedCorruptions++;
                }
            } catch (RuntimeException e) {
                corruption("cluster " + c + ": cannot repair its refcount: " + e.getMessage());
            }
        }
        img.writeBackRefcounts();
    }

    private void copiedFlags(Repair repair) {
        Qcow2Header h = img.header();
        try (Mmap l2 = Mmap.anonymous(cs, img.path + " check")) {
            for (long i = 0; i < h.l1Size; i++) {
                long e = img.rawL1(i);
                long off = e & Qcow2Image.OFFSET_MASK;
                if ((e & Qcow2Image.L1_RESERVED) != 0 || off == 0 || (off & (cs - 1)) != 0
                        || (off >>> cb) >= nClusters) {
                    continue;
                }
                long rc = refcountOr(off >>> cb);
                if (((e & Qcow2Image.COPIED) != 0) != (rc == 1)) {
                    if (repair == Repair.ALL) {
                        say("Repairing OFLAG_COPIED of L1 entry " + i + " (refcount " + rc + ")");
                        img.setL1Entry(i, rc == 1 ? e | Qcow2Image.COPIED : e & ~Qcow2Image.COPIED);
                        fixedCorruptions++;
                    } else {
                        corruption("OFLAG_COPIED L2 table at " + off + ": L1 entry " + i + " says "
                                + ((e & Qcow2Image.COPIED) != 0) + ", refcount " + rc);
                    }
                }
                ImageIo.preadZeroTail(img.rawFd(), l2.address(), cs, off, img.path + " L2 table");
                for (long j = 0; j < cs / 8; j++) {
                    long x = ImageIo.getBE64(l2.address() + j * 8);
                    long d = x & Qcow2Image.OFFSET_MASK;
                    if ((x & Qcow2Image.COMPRESSED) != 0 || (x & Qcow2Image.L2_RESERVED) != 0 || d == 0
                            || (d & (cs - 1)) != 0 || (d >>> cb) >= nClusters) {
                        continue;
                    }
                    long rc2 = refcountOr(d >>> cb);
                    if (((x & Qcow2Image.COPIED) != 0) != (rc2 == 1)) {
                        if (repair == Repair.ALL) {
                            say("Repairing OFLAG_COPIED of the L2 entry at " + (off + j * 8) + " (refcount " + rc2 + ")");
                            img.setL2Entry(off, j, rc2 == 1 ? x | Qcow2Image.COPIED : x & ~Qcow2Image.COPIED);
                            fixedCorruptions++;
                        } else {
                            corruption("OFLAG_COPIED data cluster at " + d + ": L2 entry says "
                                    + ((x & Qcow2Image.COPIED) != 0) + ", refcount " + rc2);
                        }
                    }
                }
            }
        }
    }

    private long refcountOr(long c) {
        try {
            return img.refcount(c);
        } catch (RuntimeException e) {
            return -1;
        }
    }
}

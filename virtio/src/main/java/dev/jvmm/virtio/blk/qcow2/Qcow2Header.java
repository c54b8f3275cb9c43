package dev.jvmm.virtio.blk.qcow2;

import dev.jvmm.virtio.VirtioException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The qcow2 header (the first cluster: fixed fields, header extensions, the backing file name), parsed and checked
 * against everything jvmm relies on. Field names follow the qcow2 specification (docs/interop/qcow2.txt in QEMU's
 * tree); all numbers there are big-endian.
 */
final class Qcow2Header {
    static final int MAGIC = 0x514649fb; // "QFI\xfb"
    static final int V2_LENGTH = 72, V3_MIN_LENGTH = 104, V3_LENGTH = 112;
    // header field offsets
    static final int VERSION = 4, BACKING_FILE_OFFSET = 8, BACKING_FILE_SIZE = 16, CLUSTER_BITS = 20, SIZE = 24,
            CRYPT_METHOD = 32, L1_SIZE = 36, L1_TABLE_OFFSET = 40, REFCOUNT_TABLE_OFFSET = 48,
            REFCOUNT_TABLE_CLUSTERS = 56, NB_SNAPSHOTS = 60, SNAPSHOTS_OFFSET = 64, INCOMPATIBLE_FEATURES = 72,
            COMPATIBLE_FEATURES = 80, AUTOCLEAR_FEATURES = 88, REFCOUNT_ORDER = 96, HEADER_LENGTH = 100,
            COMPRESSION_TYPE = 104;
    // incompatible feature bits
    static final long INCOMPAT_DIRTY = 1, INCOMPAT_CORRUPT = 2, INCOMPAT_DATA_FILE = 4, INCOMPAT_COMPRESSION = 8,
            INCOMPAT_EXTL2 = 16, INCOMPAT_KNOWN = 31;
    static final long COMPAT_LAZY_REFCOUNTS = 1;
    static final long AUTOCLEAR_BITMAPS = 1;
    // header extension types
    static final int EXT_END = 0, EXT_BACKING_FORMAT = 0xe2792aca, EXT_FEATURE_TABLE = 0x6803f857,
            EXT_BITMAPS = 0x23852875, EXT_CRYPTO = 0x0537be77, EXT_DATA_FILE = 0x44415441;
    static final int MIN_CLUSTER_BITS = 9, MAX_CLUSTER_BITS = 21;
    /** The largest L1 table (entries) and refcount table (bytes) we accept, as QEMU does. */
    static final long MAX_L1_BYTES = 32L << 20, MAX_REFTABLE_BYTES = 8L << 20;
    static final int MAX_SNAPSHOTS = 65536;

    int version;
    int clusterBits;
    long size;
    int cryptMethod;
    int l1Size;
    long l1TableOffset;
    long refcountTableOffset;
    int refcountTableClusters;
    int nbSnapshots;
    long snapshotsOffset;
    long incompatible;
    long compatible;
    long autoclear;
    int refcountOrder = 4;
    int headerLength = V2_LENGTH;
    int compressionType;
    String backingFile;
    String backingFormat;
    boolean hasBitmaps;
    /** Names of features from the image's own feature name table: "type:bit" → name. */
    final java.util.Map<String, String> featureNames = new java.util.HashMap<>();

    static VirtioException bad(String path, String what) {
        return new VirtioException(VirtioException.Reason.IMAGE, path + ": " + what);
    }

    /** The cluster size a header announces (to know how much of cluster 0 to read), or throws. */
    static int clusterBits(String path, ByteBuffer b) {
        if (b.limit() < V2_LENGTH) {
            throw bad(path, "file of " + b.limit() + " bytes is too short for a qcow2 header");
        }
        if (b.getInt(0) != MAGIC) {
            throw bad(path, "not a qcow2 image (no QFI\\xfb magic)");
        }
        int bits = b.getInt(CLUSTER_BITS);
        if (bits < MIN_CLUSTER_BITS || bits > MAX_CLUSTER_BITS) {
            throw bad(path, "cluster_bits " + bits + " is outside 9..21 (512 bytes to 2 MiB clusters)");
        }
        return bits;
    }

    /**
     * Parses cluster 0 ({@code b}: its first {@code min(cluster size, file size)} bytes, big-endian) of a file of
     * {@code fileSize} bytes; refuses what jvmm does not implement and what does not fit in the file.
     */
    static Qcow2Header parse(String path, ByteBuffer b, long fileSize) {
        b.order(ByteOrder.BIG_ENDIAN);
        Qcow2Header h = new Qcow2Header();
        h.clusterBits = clusterBits(path, b);
        long cs = 1L << h.clusterBits;
        h.version = b.getInt(VERSION);
        if (h.version != 2 && h.version != 3) {
            throw bad(path, "qcow2 version " + h.version + " is not supported (only 2 and 3)");
        }
        h.size = b.getLong(SIZE);
        h.cryptMethod = b.getInt(CRYPT_METHOD);
        h.l1Size = b.getInt(L1_SIZE);
        h.l1TableOffset = b.getLong(L1_TABLE_OFFSET);
        h.refcountTableOffset = b.getLong(REFCOUNT_TABLE_OFFSET);
        h.refcountTableClusters = b.getInt(REFCOUNT_TABLE_CLUSTERS);
        h.nbSnapshots = b.getInt(NB_SNAPSHOTS);
        h.snapshotsOffset = b.getLong(SNAPSHOTS_OFFSET);
        if (h.version == 3) {
            if (b.limit() < V3_MIN_LENGTH) {
                throw bad(path, "file too short for a version 3 header");
            }
            h.incompatible = b.getLong(INCOMPATIBLE_FEATURES);
            h.compatible = b.getLong(COMPATIBLE_FEATURES);
            h.autoclear = b.getLong(AUTOCLEAR_FEATURES);
            h.refcountOrder = b.getInt(REFCOUNT_ORDER);
            h.headerLength = b.getInt(HEADER_LENGTH);
            if (h.headerLength < V3_MIN_LENGTH || h.headerLength % 8 != 0 || h.headerLength > Math.min(cs, b.limit())) {
                throw bad(path, "bad header size: header_length " + h.headerLength
                        + " (must be a multiple of 8, at least 104, within the first cluster)");
            }
            if (h.headerLength > COMPRESSION_TYPE) {
                h.compressionType = b.get(COMPRESSION_TYPE) & 0xff;
            }
        }
        h.extensions(path, b, cs);
        if (h.cryptMethod != 0) {
            throw bad(path, "encrypted image (crypt_method " + h.cryptMethod + (h.cryptMethod == 1 ? ", AES"
                    : h.cryptMethod == 2 ? ", LUKS" : "") + ") is not supported");
        }
        if ((h.incompatible & INCOMPAT_DATA_FILE) != 0) {
            throw bad(path, "external data file (incompatible feature bit 2, data_file) is not supported");
        }
        if ((h.incompatible & INCOMPAT_EXTL2) != 0) {
            throw bad(path, "extended L2 entries (incompatible feature bit 4, extended_l2) are not supported");
        }
        long unknown = h.incompatible & ~INCOMPAT_KNOWN;
        if (unknown != 0) {
            List<String> names = new ArrayList<>();
            for (int bit = 0; bit < 64; bit++) {
                if ((unknown & 1L << bit) != 0) {
                    String n = h.featureNames.get("0:" + bit);
                    names.add("bit " + bit + (n != null ? " (" + n + ")" : ""));
                }
            }
            throw bad(path, "unknown incompatible feature " + String.join(", ", names) + " is not supported");
        }
        if ((h.incompatible & INCOMPAT_COMPRESSION) != 0 || h.compressionType != 0) {
            if ((h.incompatible & INCOMPAT_COMPRESSION) == 0 || h.compressionType == 0) {
                throw bad(path, "compression_type " + h.compressionType + " does not match incompatible feature bit 3");
            }
            throw bad(path, (h.compressionType == 1 ? "zstd compression (compression_type=zstd)"
                    : "compression_type " + h.compressionType) + " is not supported; convert the image with "
                    + "'qemu-img convert -O qcow2 -o compression_type=zlib'");
        }
        if (h.refcountOrder < 0 || h.refcountOrder > 6) {
            throw bad(path, "refcount_order " + h.refcountOrder + " is outside 0..6");
        }
        if (h.size < 0) {
            throw bad(path, "virtual size " + Long.toUnsignedString(h.size) + " is absurd");
        }
        long l2Entries = cs / 8;
        if (h.l1Size < 0 || (long) h.l1Size * 8 > MAX_L1_BYTES) {
            throw bad(path, "L1 table of " + Integer.toUnsignedString(h.l1Size) + " entries is larger than 32 MiB");
        }
        long covered = (long) h.l1Size * l2Entries;
        long needed = (h.size + cs - 1) >>> h.clusterBits;
        if (covered < needed) {
            throw bad(path, "virtual size " + h.size + " needs " + ((needed + l2Entries - 1) / l2Entries)
                    + " L1 entries but the L1 table has " + h.l1Size);
        }
        h.table("L1 table", path, h.l1TableOffset, (long) h.l1Size * 8, cs, fileSize);
        if (h.refcountTableClusters <= 0 || ((long) h.refcountTableClusters << h.clusterBits) > MAX_REFTABLE_BYTES) {
            throw bad(path, "refcount table of " + Integer.toUnsignedString(h.refcountTableClusters)
                    + " clusters (must be 1 cluster to 8 MiB)");
        }
        h.table("refcount table", path, h.refcountTableOffset, (long) h.refcountTableClusters << h.clusterBits, cs,
                fileSize);
        if (h.l1Size > 0 && overlap(h.l1TableOffset, (long) h.l1Size * 8, h.refcountTableOffset,
                (long) h.refcountTableClusters << h.clusterBits)) {
            throw bad(path, "overlapping metadata: the L1 table at " + h.l1TableOffset
                    + " overlaps the refcount table at " + h.refcountTableOffset);
        }
        if (h.nbSnapshots < 0 || h.nbSnapshots > MAX_SNAPSHOTS) {
            throw bad(path, "nb_snapshots " + Integer.toUnsignedString(h.nbSnapshots) + " is absurd");
        }
        if (h.nbSnapshots > 0 && ((h.snapshotsOffset & (cs - 1)) != 0 || h.snapshotsOffset <= 0
                || h.snapshotsOffset >= fileSize)) {
            throw bad(path, "snapshot table offset " + h.snapshotsOffset + " is unaligned or outside the file");
        }
        return h;
    }

    private void table(String name, String path, long off, long len, long cs, long fileSize) {
        if (len == 0) {
            return;
        }
        if ((off & (cs - 1)) != 0 || off <= 0) {
            throw bad(path, name + " offset " + off + " is not a cluster boundary after the header");
        }
        if (off > fileSize || len > fileSize - off) {
            throw bad(path, name + " at " + off + " (" + len + " bytes) lies past the end of the file (" + fileSize
                    + " bytes)");
        }
    }

    static boolean overlap(long a, long alen, long b, long blen) {
        return a < b + blen && b < a + alen;
    }

    private void extensions(String path, ByteBuffer b, long cs) {
        long end = Math.min(cs, b.limit());
        long p = version == 2 ? V2_LENGTH : headerLength;
        long extEnd = p;
        boolean sawEnd = false;
        while (p + 8 <= end) {
            int type = b.getInt((int) p);
            long len = b.getInt((int) p + 4) & 0xffffffffL;
            if (type == EXT_END) {
                sawEnd = true;
                extEnd = p + 8;
                break;
            }
            long data = p + 8;
            if (len > end - data) {
                throw bad(path, String.format("header extension 0x%08x of %d bytes runs past the first cluster", type,
                        len));
            }
            switch (type) {
                case EXT_BACKING_FORMAT -> backingFormat = string(b, data, len);
                case EXT_FEATURE_TABLE -> {
                    for (long q = data; q + 48 <= data + len; q += 48) {
                        int t = b.get((int) q) & 0xff;
                        int bit = b.get((int) q + 1) & 0xff;
                        String n = string(b, q + 2, 46);
                        int nul = n.indexOf('\0');
                        featureNames.put(t + ":" + bit, nul >= 0 ? n.substring(0, nul) : n);
                    }
                }
                case EXT_BITMAPS -> hasBitmaps = true;
                case EXT_DATA_FILE -> throw bad(path, "external data file (header extension data_file) is not supported");
                case EXT_CRYPTO -> throw bad(path, "encrypted image (full disk encryption header) is not supported");
                default -> {
                    // unknown extensions can be ignored (qcow2 spec: header extensions)
                }
            }
            p = data + ((len + 7) & ~7L);
            extEnd = p;
        }
        if (!sawEnd && version == 3 && p + 8 > end && p < end) {
            throw bad(path, "header extensions run past the first cluster");
        }
        long bfo = 0;
        int bfs = 0;
        bfo = b.getLong(BACKING_FILE_OFFSET);
        bfs = b.getInt(BACKING_FILE_SIZE);
        if (bfo != 0) {
            if (bfs <= 0 || bfs > 1023) {
                throw bad(path, "backing_file_size " + Integer.toUnsignedString(bfs) + " is outside 1..1023");
            }
            if (bfo < extEnd - 8 && bfo < (version == 2 ? V2_LENGTH : headerLength) || bfo > end - bfs) {
                throw bad(path, "backing file name at " + bfo + " (" + bfs + " bytes) is not inside the first cluster "
                        + "after the header");
            }
            backingFile = string(b, bfo, bfs);
            if (backingFile.indexOf('\0') >= 0) {
                throw bad(path, "backing file name contains a NUL byte");
            }
        }
    }

    private static String string(ByteBuffer b, long off, long len) {
        byte[] s = new byte[(int) len];
        b.get((int) off, s, 0, (int) len);
        return new String(s, StandardCharsets.UTF_8);
    }

    /** Clusters the L1 table occupies (whole clusters from its offset). */
    long l1Clusters() {
        return ((long) l1Size * 8 + (1L << clusterBits) - 1) >>> clusterBits;
    }

    String compat() {
        return version == 2 ? "0.10" : "1.1";
    }
}

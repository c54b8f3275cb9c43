package dev.jvmm.virtio.blk.qcow2;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.virtio.VirtioException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What {@code jvmm img create|info|check} do: make a raw or qcow2 image, report the facts {@code qemu-img info}
 * reports, check and repair a qcow2 image as {@code qemu-img check} does.
 */
public final class ImageTool {
    private static final int SEEK_DATA = 3, SEEK_HOLE = 4;

    private ImageTool() {
    }

    static VirtioException usage(String what) {
        return new VirtioException(VirtioException.Reason.CONFIG, what);
    }

    /**
     * Creates {@code file} (replacing it) as {@code format} of {@code size} bytes (rounded up to whole sectors; -1:
     * the backing file's size).
     *
     * @param backing       backing file name as it is stored (relative names are relative to {@code file}'s directory)
     * @param backingFormat raw or qcow2, null: detected
     * @param clusterSize   512..2 MiB, a power of two
     * @param compat        {@code 1.1} (version 3) or {@code 0.10} (version 2)
     */
    public static void create(String file, String format, long size, String backing, String backingFormat,
            int clusterSize, String compat) {
        if (!format.equals("qcow2") && !format.equals("raw")) {
            throw usage("unknown format \"" + format + "\" (expected qcow2 or raw)");
        }
        if (backing != null && format.equals("raw")) {
            throw usage("a raw image cannot have a backing file");
        }
        if (backing != null) {
            String bpath = Images.resolve(file, backing);
            try (DiskImage b = openAny(bpath, backingFormat)) {
                if (backingFormat == null) {
                    backingFormat = b.format();
                }
                if (size < 0) {
                    size = b.size();
                }
            }
        }
        if (size < 0) {
            throw usage("the image size is missing");
        }
        size = (size + 511) & ~511L;
        if (Integer.bitCount(clusterSize) != 1 || clusterSize < 512 || clusterSize > (2 << 20)) {
            throw usage("cluster_size " + clusterSize + " must be a power of two from 512 to 2M");
        }
        if (!compat.equals("1.1") && !compat.equals("0.10")) {
            throw usage("compat=" + compat + " (expected 1.1 or 0.10)");
        }
        Fd fd;
        try {
            fd = Fd.open(file, Native.O_RDWR | Native.O_CREAT | Native.O_TRUNC, 0644);
        } catch (ErrnoException e) {
            throw new VirtioException(VirtioException.Reason.BACKEND, "cannot create " + file + ": " + e.errnoName()
                    + " (" + ErrnoException.description(e.errno()) + ")", e);
        }
        try (fd) {
            if (format.equals("raw")) {
                truncate(fd, size, file);
            } else {
                writeQcow2(fd, file, size, backing, backingFormat, clusterSize, compat.equals("1.1") ? 3 : 2);
            }
            ImageIo.fdatasync(fd.fd(), file);
        }
    }

    private static DiskImage openAny(String path, String format) {
        if (format == null || format.equals("qcow2")) {
            try {
                return Images.open(path, format, true);
            } catch (IllegalArgumentException rawTop) {
                // probed raw: fall through
            }
        }
        Fd fd;
        try {
            fd = Fd.open(path, Native.O_RDONLY);
        } catch (ErrnoException e) {
            throw new VirtioException(VirtioException.Reason.BACKEND, "cannot open backing file " + path + ": "
                    + e.errnoName() + " (" + ErrnoException.description(e.errno()) + ")", e);
        }
        try {
            return new RawImage(path, fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private static void truncate(Fd fd, long size, String file) {
        if (Native.LIBC.ftruncate(fd.fd(), size) != 0) {
            throw new ErrnoException("ftruncate", Native.errno(), file);
        }
    }

    /** Header, refcount table, refcount blocks and an empty L1 table, each in whole clusters, in that order. */
    private static void writeQcow2(Fd fd, String file, long size, String backing, String backingFormat, int cs,
            int version) {
        int cb = Integer.numberOfTrailingZeros(cs);
        long l2Entries = cs / 8;
        long l1Entries = ((size + cs - 1) / cs + l2Entries - 1) / l2Entries;
        if (l1Entries * 8 > Qcow2Header.MAX_L1_BYTES) {
            throw usage("size " + size + " needs an L1 table over 32 MiB with " + cs + "-byte clusters; use a larger "
                    + "cluster_size");
        }
        long l1c = (l1Entries * 8 + cs - 1) / cs;
        long perBlock = cs * 8L / 16;
        long rtc = 1, rbc = 1;
        for (;;) {
            long total = 1 + rtc + rbc + l1c;
            long nrbc = (total + perBlock - 1) / perBlock;
            long nrtc = Math.max(1, (nrbc * 8 + cs - 1) / cs);
            if (nrbc == rbc && nrtc == rtc) {
                break;
            }
            rbc = nrbc;
            rtc = nrtc;
        }
        long total = 1 + rtc + rbc + l1c;
        java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(cs);
        h.putInt(0, Qcow2Header.MAGIC);
        h.putInt(Qcow2Header.VERSION, version);
        h.putInt(Qcow2Header.CLUSTER_BITS, cb);
        h.putLong(Qcow2Header.SIZE, size);
        h.putInt(Qcow2Header.L1_SIZE, (int) l1Entries);
        h.putLong(Qcow2Header.L1_TABLE_OFFSET, (1 + rtc + rbc) << cb);
        h.putLong(Qcow2Header.REFCOUNT_TABLE_OFFSET, 1L << cb);
        h.putInt(Qcow2Header.REFCOUNT_TABLE_CLUSTERS, (int) rtc);
        int p;
        if (version == 3) {
            h.putInt(Qcow2Header.REFCOUNT_ORDER, 4);
            h.putInt(Qcow2Header.HEADER_LENGTH, Qcow2Header.V3_LENGTH);
            p = Qcow2Header.V3_LENGTH;
        } else {
            p = Qcow2Header.V2_LENGTH;
        }
        if (backing != null) {
            byte[] name = backing.getBytes(StandardCharsets.UTF_8);
            byte[] fmt = backingFormat.getBytes(StandardCharsets.UTF_8);
            if (name.length > 1023) {
                throw usage("backing file name longer than 1023 bytes");
            }
            long need = p + 8 + ((fmt.length + 7) & ~7) + 8 + name.length;
            if (need > cs) {
                throw usage("the backing file name does not fit in the first cluster (" + cs + " bytes); use a larger "
                        + "cluster_size");
            }
            h.putInt(p, Qcow2Header.EXT_BACKING_FORMAT);
            h.putInt(p + 4, fmt.length);
            h.put(p + 8, fmt);
            p += 8 + ((fmt.length + 7) & ~7);
            p += 8; // end of extensions (zeroes)
            h.put(p, name);
            h.putLong(Qcow2Header.BACKING_FILE_OFFSET, p);
            h.putInt(Qcow2Header.BACKING_FILE_SIZE, name.length);
        }
        truncate(fd, total << cb, file);
        try (Mmap m = Mmap.anonymous(Math.max(cs, (rtc + rbc) << cb), "new image")) {
            Native.put(m.address(), h.array(), 0, cs);
            ImageIo.pwriteFully(fd.fd(), m.address(), cs, 0, file + " header");
            Native.fill(m.address(), (rtc + rbc) << cb, (byte) 0);
            for (long i = 0; i < rbc; i++) {
                ImageIo.putBE64(m.address() + i * 8, (1 + rtc + i) << cb);
            }
            long blocks = m.address() + (rtc << cb);
            for (long c = 0; c < total; c++) {
                Native.putShort(blocks + c * 2, Short.reverseBytes((short) 1));
            }
            ImageIo.pwriteFully(fd.fd(), m.address(), (rtc + rbc) << cb, 1L << cb, file + " refcounts");
        }
    }

    /**
     * The facts {@code qemu-img info --output=json} reports, under the same names: format, virtual-size,
     * actual-size, filename, cluster-size, backing-filename, full-backing-filename, backing-filename-format,
     * dirty-flag, and format-specific data (compat, compression-type, lazy-refcounts, refcount-bits, corrupt,
     * extended-l2). The backing file is not opened.
     */
    public static Map<String, Object> info(String path) {
        Fd fd;
        try {
            fd = Fd.open(path, Native.O_RDONLY);
        } catch (ErrnoException e) {
            throw new VirtioException(VirtioException.Reason.BACKEND, "cannot open " + path + ": " + e.errnoName()
                    + " (" + ErrnoException.description(e.errno()) + ")", e);
        }
        try (fd) {
            Map<String, Object> m = new LinkedHashMap<>();
            long fileSize = ImageIo.size(fd.fd(), path);
            String format = Images.probe(fd.fd(), path);
            m.put("filename", path);
            m.put("format", format);
            m.put("actual-size", allocated(fd.fd(), fileSize));
            m.put("dirty-flag", false);
            if (format.equals("raw")) {
                m.put("virtual-size", fileSize);
                return m;
            }
            Qcow2Header h = Images.readHeader(fd.fd(), path);
            m.put("virtual-size", h.size);
            m.put("cluster-size", 1L << h.clusterBits);
            if (h.backingFile != null) {
                m.put("backing-filename", h.backingFile);
                m.put("full-backing-filename", fullBacking(path, h.backingFile));
                if (h.backingFormat != null) {
                    m.put("backing-filename-format", h.backingFormat);
                }
            }
            m.put("dirty-flag", (h.incompatible & Qcow2Header.INCOMPAT_DIRTY) != 0);
            Map<String, Object> data = new LinkedHashMap<>();
            data.put("compat", h.compat());
            data.put("compression-type", h.compressionType == 1 ? "zstd" : "zlib");
            if (h.version == 3) {
                data.put("lazy-refcounts", (h.compatible & Qcow2Header.COMPAT_LAZY_REFCOUNTS) != 0);
            }
            data.put("refcount-bits", 1L << h.refcountOrder);
            if (h.version == 3) {
                data.put("corrupt", (h.incompatible & Qcow2Header.INCOMPAT_CORRUPT) != 0);
                data.put("extended-l2", (h.incompatible & Qcow2Header.INCOMPAT_EXTL2) != 0);
            }
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("type", "qcow2");
            spec.put("data", data);
            m.put("format-specific", spec);
            return m;
        }
    }

    /** The backing file name combined with the image's directory, as QEMU shows it. */
    static String fullBacking(String image, String backing) {
        if (backing.startsWith("/")) {
            return backing;
        }
        Path dir = Path.of(image).getParent();
        return dir == null ? backing : dir.resolve(backing).toString();
    }

    /** Bytes the file occupies on disk: its data extents (SEEK_DATA/SEEK_HOLE), in 4 KiB blocks. */
    private static long allocated(int fd, long size) {
        long total = 0;
        long off = 0;
        while (off < size) {
            long data = Native.LIBC.lseek(fd, off, SEEK_DATA);
            if (data < 0) {
                break;
            }
            long hole = Native.LIBC.lseek(fd, data, SEEK_HOLE);
            if (hole < 0) {
                hole = size;
            }
            total += ((hole + 4095) & ~4095L) - (data & ~4095L);
            off = hole;
        }
        return total;
    }

    /** {@code qemu-img info}'s human form of {@link #info}. */
    @SuppressWarnings("unchecked")
    public static String infoText(Map<String, Object> m) {
        StringBuilder b = new StringBuilder();
        b.append("image: ").append(m.get("filename")).append('\n');
        b.append("file format: ").append(m.get("format")).append('\n');
        long vs = (Long) m.get("virtual-size");
        b.append("virtual size: ").append(human(vs)).append(" (").append(vs).append(" bytes)\n");
        b.append("disk size: ").append(human((Long) m.get("actual-size"))).append('\n');
        if (m.containsKey("cluster-size")) {
            b.append("cluster_size: ").append(m.get("cluster-size")).append('\n');
        }
        if (m.containsKey("backing-filename")) {
            b.append("backing file: ").append(m.get("backing-filename"));
            if (!m.get("backing-filename").equals(m.get("full-backing-filename"))) {
                b.append(" (actual path: ").append(m.get("full-backing-filename")).append(')');
            }
            b.append('\n');
            if (m.containsKey("backing-filename-format")) {
                b.append("backing file format: ").append(m.get("backing-filename-format")).append('\n');
            }
        }
        if (Boolean.TRUE.equals(m.get("dirty-flag"))) {
            b.append("dirty flag: true (refcounts are rebuilt when the image is opened for writing)\n");
        }
        Map<String, Object> spec = (Map<String, Object>) m.get("format-specific");
        if (spec != null) {
            b.append("Format specific information:\n");
            ((Map<String, Object>) spec.get("data")).forEach((k, v) -> b.append("    ").append(k.replace('-', ' '))
                    .append(": ").append(v).append('\n'));
        }
        return b.toString();
    }

    static String human(long bytes) {
        String[] u = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int i = 0;
        while (v >= 1024 && i < u.length - 1) {
            v /= 1024;
            i++;
        }
        return i == 0 ? bytes + " B" : String.format(java.util.Locale.ROOT, "%.3g %s", v, u[i]);
    }

    /**
     * Checks (and with {@code repair}, repairs) the qcow2 image {@code path}, printing findings and a summary to
     * {@code out}. The backing file is not opened. A raw image has nothing to check: null.
     */
    public static Qcow2Check.Result check(String path, Qcow2Check.Repair repair, PrintStream out) {
        boolean rw = repair != Qcow2Check.Repair.NONE;
        Fd fd;
        try {
            fd = Fd.open(path, rw ? Native.O_RDWR : Native.O_RDONLY);
        } catch (ErrnoException e) {
            throw new VirtioException(VirtioException.Reason.BACKEND, "cannot open " + path + ": " + e.errnoName()
                    + " (" + ErrnoException.description(e.errno()) + ")", e);
        }
        Qcow2Image img;
        try {
            if (!Images.probe(fd.fd(), path).equals("qcow2")) {
                fd.close();
                return null;
            }
            img = new Qcow2Image(path, fd, Images.readHeader(fd.fd(), path), null, !rw, true);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        try (img) {
            Qcow2Check.Result r = Qcow2Check.run(img, repair, out);
            if (rw && r.corruptions() == 0) {
                img.clearDirtyAndCorrupt();
            }
            if (r.fixedLeaks() + r.fixedCorruptions() > 0) {
                out.println("Repaired: " + r.fixedLeaks() + " leaked cluster(s), " + r.fixedCorruptions()
                        + " corruption(s); checked again:");
            }
            if (r.corruptions() == 0 && r.leaks() == 0) {
                out.println("No problems found.");
            }
            if (r.corruptions() > 0) {
                out.println(r.corruptions() + " corruption(s): data may be damaged, and writing to the image may "
                        + "damage it further. Repair with 'jvmm img check -r all " + path + "'.");
            }
            if (r.leaks() > 0) {
                out.println(r.leaks() + " leaked cluster(s): disk space wasted, data intact. Reclaim with "
                        + "'jvmm img check -r leaks " + path + "'.");
            }
            out.println(r.allocatedClusters() + "/" + r.totalClusters() + " = "
                    + String.format(java.util.Locale.ROOT, "%.2f", r.totalClusters() == 0 ? 0.0
                            : 100.0 * r.allocatedClusters() / r.totalClusters()) + "% allocated");
            out.println("Image end offset: " + r.imageEnd());
            return r;
        }
    }
}

package dev.jvmm.virtio.blk.qcow2;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.virtio.VirtioException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Opening images by format: the format is taken from the header (qcow2's "QFI\xfb" magic) unless given; a qcow2
 * image's backing chain is opened read-only below it, relative names resolved against the directory of the image
 * that names them, each file at most once (a loop is refused), at most {@link #MAX_CHAIN} deep.
 */
public final class Images {
    public static final int MAX_CHAIN = 32;

    private Images() {
    }

    /** {@code qcow2} or {@code raw}, from the first bytes of the open file {@code fd}. */
    public static String probe(int fd, String path) {
        try (Mmap b = Mmap.anonymous(4096, "probe")) {
            ImageIo.preadZeroTail(fd, b.address(), 4096, 0, path);
            return Integer.reverseBytes(Native.getInt(b.address())) == Qcow2Header.MAGIC ? "qcow2" : "raw";
        }
    }

    /**
     * A qcow2 image over {@code fd} (which it owns from here on, closed on failure too), with its backing chain.
     *
     * @param format the format asked for ({@code qcow2}), or null when probed already
     * @param sync   fdatasync at the metadata ordering points (false for cache=unsafe)
     */
    public static Qcow2Image openQcow2(String path, Fd fd, boolean readOnly, boolean sync) {
        List<String> chain = new ArrayList<>();
        return (Qcow2Image) openLayer(path, fd, "qcow2", readOnly, sync, chain, true);
    }

    /**
     * Opens {@code path} read-only or read-write (no O_DIRECT) as {@code format} (null: probed), with its chain.
     * For tools ({@code jvmm img}) and tests.
     */
    public static DiskImage open(String path, String format, boolean readOnly) {
        Fd fd;
        try {
            fd = Fd.open(path, readOnly ? Native.O_RDONLY : Native.O_RDWR);
        } catch (ErrnoException e) {
            throw new VirtioException(VirtioException.Reason.BACKEND, "cannot open " + path + ": " + e.errnoName()
                    + " (" + ErrnoException.description(e.errno()) + ")", e);
        }
        return openLayer(path, fd, format, readOnly, true, new ArrayList<>(), true);
    }

    private static DiskImage openLayer(String path, Fd fd, String format, boolean readOnly, boolean sync,
            List<String> chain, boolean top) {
        DiskImage backing = null;
        try {
            String real = realPath(path);
            if (chain.contains(real)) {
                throw new VirtioException(VirtioException.Reason.IMAGE, "backing chain loop: " + path
                        + " is already in the chain " + String.join(" -> ", chain));
            }
            if (chain.size() >= MAX_CHAIN) {
                throw new VirtioException(VirtioException.Reason.IMAGE, "backing chain deeper than " + MAX_CHAIN
                        + " images at " + path);
            }
            chain.add(real);
            String found = probe(fd.fd(), path);
            if (format == null) {
                format = found;
            }
            switch (format) {
                case "raw" -> {
                    if (top) {
                        throw new IllegalArgumentException("raw images are served by the raw backend");
                    }
                    return new RawImage(path, fd);
                }
                case "qcow2" -> {
                    if (!found.equals("qcow2")) {
                        throw new VirtioException(VirtioException.Reason.IMAGE, path
                                + ": format=qcow2 but the file is not a qcow2 image (no QFI\\xfb magic)");
                    }
                }
                default -> throw new VirtioException(VirtioException.Reason.CONFIG, path + ": unknown format \""
                        + format + "\" (expected qcow2 or raw)");
            }
            Qcow2Header h = readHeader(fd.fd(), path);
            if (h.backingFile != null) {
                String bpath = resolve(path, h.backingFile);
                String bfmt = h.backingFormat;
                if (bfmt != null && !bfmt.equals("raw") && !bfmt.equals("qcow2")) {
                    throw new VirtioException(VirtioException.Reason.IMAGE, path + ": backing file " + h.backingFile
                            + " has format \"" + bfmt + "\" (jvmm reads raw and qcow2)");
                }
                Fd bfd;
                try {
                    bfd = Fd.open(bpath, Native.O_RDONLY);
                } catch (ErrnoException e) {
                    throw new VirtioException(VirtioException.Reason.IMAGE, path + ": cannot open its backing file "
                            + bpath + ": " + e.errnoName() + " (" + ErrnoException.description(e.errno()) + ")", e);
                }
                backing = openLayer(bpath, bfd, bfmt, true, false, chain, false);
            }
            Qcow2Image img = new Qcow2Image(path, fd, h, backing, readOnly, sync);
            try {
                img.prepare();
            } catch (RuntimeException e) {
                backing = null; // closed with img
                img.close();
                throw e;
            }
            return img;
        } catch (RuntimeException e) {
            if (backing != null) {
                backing.close();
            }
            fd.close();
            throw e;
        }
    }

    /** The header of the qcow2 file {@code fd}: cluster 0 read and parsed. */
    static Qcow2Header readHeader(int fd, String path) {
        long fileSize = ImageIo.size(fd, path);
        try (Mmap first = Mmap.anonymous(4096, "qcow2 header")) {
            ImageIo.preadZeroTail(fd, first.address(), 4096, 0, path);
            byte[] b = new byte[(int) Math.min(4096, fileSize)];
            Native.get(first.address(), b, 0, b.length);
            int bits = Qcow2Header.clusterBits(path, ByteBuffer.wrap(b));
            long want = Math.min(1L << bits, fileSize);
            if (want > b.length) {
                try (Mmap all = Mmap.anonymous((want + 4095) & ~4095L, "qcow2 header")) {
                    ImageIo.preadZeroTail(fd, all.address(), (want + 4095) & ~4095L, 0, path);
                    b = new byte[(int) want];
                    Native.get(all.address(), b, 0, b.length);
                }
            }
            return Qcow2Header.parse(path, ByteBuffer.wrap(b), fileSize);
        }
    }

    /** A backing file name as qcow2 means it: relative to the directory of the image that names it. */
    public static String resolve(String imagePath, String backing) {
        if (backing.startsWith("json:")) {
            throw new VirtioException(VirtioException.Reason.IMAGE, imagePath + ": backing file \"" + backing
                    + "\" is a QEMU json: description, which jvmm does not read");
        }
        Path b = Path.of(backing);
        if (b.isAbsolute()) {
            return backing;
        }
        Path dir = Path.of(imagePath).toAbsolutePath().getParent();
        return dir == null ? backing : dir.resolve(b).normalize().toString();
    }

    private static String realPath(String path) {
        try {
            return Path.of(path).toRealPath().toString();
        } catch (IOException | RuntimeException e) {
            return Path.of(path).toAbsolutePath().normalize().toString();
        }
    }

    /** Whether {@code path} starts with the qcow2 magic (false for unreadable or short files). */
    public static boolean isQcow2(Path path) {
        try (var in = Files.newInputStream(path)) {
            byte[] m = in.readNBytes(4);
            return m.length == 4 && ByteBuffer.wrap(m).getInt() == Qcow2Header.MAGIC;
        } catch (IOException e) {
            return false;
        }
    }
}

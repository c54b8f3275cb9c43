package dev.jvmm.virtio.blk;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Errno;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.blk.BlockConstants;
import dev.jvmm.virtio.VirtioException;
import dev.jvmm.virtio.blk.qcow2.DiskImage;
import dev.jvmm.virtio.blk.qcow2.Images;
import dev.jvmm.virtio.blk.qcow2.Qcow2Image;

/**
 * A disk image file or a host block device opened with the flags of its {@link CacheMode}: raw, or qcow2
 * ({@link #image()}: requests are translated through it, see {@code BlkQueue}). The format is detected from the
 * header unless given; {@code format=raw} on a qcow2 file shows the guest the container itself, as QEMU does. The
 * I/O methods return 0 or a negative errno (the device turns that into VIRTIO_BLK_S_IOERR); they never throw on
 * the data path.
 */
public final class BlockBackend implements AutoCloseable {
    private static final int SEEK_END = 2;
    private final String path;
    private final Fd fd;
    private final CacheMode cache;
    private final boolean readOnly;
    private final boolean blockDevice;
    private final long size;
    private final NativeBuffer range = new NativeBuffer(16);
    /** The qcow2 image this disk serves, or null for raw. */
    private final DiskImage image;

    private BlockBackend(String path, Fd fd, CacheMode cache, boolean readOnly, boolean blockDevice, long size,
            DiskImage image) {
        this.image = image;
        this.path = path;
        this.fd = fd;
        this.cache = cache;
        this.readOnly = readOnly;
        this.blockDevice = blockDevice;
        this.size = size;
    }

    public static BlockBackend open(String path, boolean readOnly, CacheMode cache) {
        return open(path, readOnly, cache, null);
    }

    /**
     * Opens a disk as {@code format} ({@code raw} or {@code qcow2}; null: detected from the header). A qcow2 image's
     * backing chain is opened read-only below it.
     */
    public static BlockBackend open(String path, boolean readOnly, CacheMode cache, String format) {
        if (format != null && !format.equals("raw") && !format.equals("qcow2")) {
            throw new VirtioException(VirtioException.Reason.CONFIG, "disk " + path + ": unknown format \"" + format
                    + "\" (expected raw or qcow2)");
        }
        int flags = (readOnly ? Native.O_RDONLY : Native.O_RDWR)
                | (cache == CacheMode.NONE ? Native.O_DIRECT : 0)
                | (cache == CacheMode.WRITETHROUGH ? Native.O_DSYNC : 0);
        Fd fd;
        try {
            fd = Fd.open(path, flags);
        } catch (ErrnoException e) {
            String hint = e.errno() == Errno.EINVAL && cache == CacheMode.NONE
                    ? " (this filesystem refuses O_DIRECT; use cache=writeback)" : "";
            throw new VirtioException(VirtioException.Reason.BACKEND, "cannot open disk " + path + ": " + e.errnoName() + " (" + ErrnoException.description(e.errno()) + ")"
                    + hint, e);
        }
        try {
            boolean blockDevice;
            long size;
            try (NativeBuffer b = new NativeBuffer(8)) {
                int r = Native.LIBC.ioctl(fd.fd(), BlockConstants.BLKGETSIZE64, b.address());
                blockDevice = r == 0;
                size = blockDevice ? b.getLong(0) : Native.LIBC.lseek(fd.fd(), 0, SEEK_END);
            }
            if (size < 0) {
                throw new ErrnoException("lseek(SEEK_END)", Native.errno(), path);
            }
            String found = Images.probe(fd.fd(), path);
            if ("qcow2".equals(format) && !found.equals("qcow2")) {
                throw new VirtioException(VirtioException.Reason.CONFIG, "disk " + path
                        + ": format=qcow2 but the file is not a qcow2 image (no QFI\\xfb magic)");
            }
            if ((format == null ? found : format).equals("qcow2")) {
                // the image owns fd from here on (closes it if it refuses the file)
                Qcow2Image img = Images.openQcow2(path, fd, readOnly, cache != CacheMode.UNSAFE);
                img.deferFreshL2(cache != CacheMode.WRITETHROUGH);
                if (img.size() % 512 != 0) {
                    img.close();
                    throw new VirtioException(VirtioException.Reason.CONFIG, "disk " + path + ": virtual size "
                            + img.size() + " is not a whole number of 512-byte sectors");
                }
                return new BlockBackend(path, fd, cache, readOnly, blockDevice, img.size(), img);
            }
            if (size % 512 != 0) {
                throw new VirtioException(VirtioException.Reason.CONFIG, "disk " + path + " is " + size
                        + " bytes, not a whole number of 512-byte sectors");
            }
            return new BlockBackend(path, fd, cache, readOnly, blockDevice, size, null);
        } catch (RuntimeException e) {
            fd.close();
            throw e instanceof VirtioException ? e : new VirtioException(VirtioException.Reason.BACKEND,
                    "cannot size disk " + path + ": " + e.getMessage(), e);
        }
    }

    public String path() {
        return path;
    }

    public long size() {
        return size;
    }

    public boolean readOnly() {
        return readOnly;
    }

    public CacheMode cache() {
        return cache;
    }

    /** The qcow2 image requests are translated through, or null for a raw disk. */
    public DiskImage image() {
        return image;
    }

    /** {@code raw} or {@code qcow2}. */
    public String format() {
        return image == null ? "raw" : image.format();
    }

    public boolean blockDevice() {
        return blockDevice;
    }

    /** Whether guest buffers must be aligned for this backend (O_DIRECT). */
    public boolean direct() {
        return cache == CacheMode.NONE;
    }

    int fd() {
        return fd.fd();
    }

    /**
     * fdatasync, or nothing with cache=unsafe; a qcow2 image first hands back what it holds for itself (see
     * {@link DiskImage#flush}), so that the file alone describes the disk. Returns 0 or -errno.
     */
    public int flush() {
        if (image != null) {
            return image.flush();
        }
        if (cache == CacheMode.UNSAFE) {
            return 0;
        }
        return Native.LIBC.fdatasync(fd.fd()) == 0 ? 0 : -Native.errno();
    }

    /**
     * Reads a qcow2 image's metadata again, for a disk another process wrote until now (the source of a live
     * migration, which has paused and flushed); nothing for raw. Before any request.
     */
    public void reload() {
        if (image != null) {
            image.reload();
        }
    }

    /** Deallocates {@code [offset, offset+len)}: PUNCH_HOLE on a file, BLKDISCARD on a block device. */
    public synchronized int discard(long offset, long len) {
        if (image != null) {
            return image.discard(offset, len);
        }
        if (blockDevice) {
            return rangeIoctl(BlockConstants.BLKDISCARD, offset, len);
        }
        return Native.LIBC.fallocate(fd.fd(), BlockConstants.FALLOC_FL_PUNCH_HOLE | BlockConstants.FALLOC_FL_KEEP_SIZE,
                offset, len) == 0 ? 0 : -Native.errno();
    }

    /** Zeroes {@code [offset, offset+len)}; with {@code unmap}, by deallocating (reads return zeroes after). */
    public synchronized int writeZeroes(long offset, long len, boolean unmap) {
        if (image != null) {
            return image.writeZeroes(offset, len, unmap);
        }
        if (blockDevice) {
            return rangeIoctl(BlockConstants.BLKZEROOUT, offset, len);
        }
        int mode = unmap ? BlockConstants.FALLOC_FL_PUNCH_HOLE | BlockConstants.FALLOC_FL_KEEP_SIZE
                : BlockConstants.FALLOC_FL_ZERO_RANGE | BlockConstants.FALLOC_FL_KEEP_SIZE;
        if (Native.LIBC.fallocate(fd.fd(), mode, offset, len) == 0) {
            return 0;
        }
        int e = Native.errno();
        if (!unmap && e == Errno.EOPNOTSUPP) {
            // no ZERO_RANGE on this filesystem: a hole also reads back as zeroes
            return Native.LIBC.fallocate(fd.fd(), BlockConstants.FALLOC_FL_PUNCH_HOLE
                    | BlockConstants.FALLOC_FL_KEEP_SIZE, offset, len) == 0 ? 0 : -Native.errno();
        }
        return -e;
    }

    private int rangeIoctl(long request, long offset, long len) {
        range.putLong(0, offset);
        range.putLong(8, len);
        return Native.LIBC.ioctl(fd.fd(), request, range.address()) == 0 ? 0 : -Native.errno();
    }

    @Override
    public void close() {
        if (image != null) {
            image.close(); // writes back and syncs its metadata, closes the backing chain and fd
        }
        fd.close();
        range.close();
    }

    @Override
    public String toString() {
        return path + " (" + (image != null ? "qcow2, " : "") + size + " bytes, cache=" + cache + (readOnly ? ", read-only" : "") + ")";
    }
}

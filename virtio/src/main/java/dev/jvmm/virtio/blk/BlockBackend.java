package dev.jvmm.virtio.blk;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Errno;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.blk.BlockConstants;
import dev.jvmm.virtio.VirtioException;

/**
 * A raw disk image file or a host block device opened with the flags of its {@link CacheMode}. The I/O
 * methods return 0 or a negative errno (the device turns that into VIRTIO_BLK_S_IOERR); they never throw on
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

    private BlockBackend(String path, Fd fd, CacheMode cache, boolean readOnly, boolean blockDevice, long size) {
        this.path = path;
        this.fd = fd;
        this.cache = cache;
        this.readOnly = readOnly;
        this.blockDevice = blockDevice;
        this.size = size;
    }

    public static BlockBackend open(String path, boolean readOnly, CacheMode cache) {
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
            if (size % 512 != 0) {
                throw new VirtioException(VirtioException.Reason.CONFIG, "disk " + path + " is " + size
                        + " bytes, not a whole number of 512-byte sectors");
            }
            return new BlockBackend(path, fd, cache, readOnly, blockDevice, size);
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

    /** fdatasync, or nothing with cache=unsafe. Returns 0 or -errno. */
    public int flush() {
        if (cache == CacheMode.UNSAFE) {
            return 0;
        }
        return Native.LIBC.fdatasync(fd.fd()) == 0 ? 0 : -Native.errno();
    }

    /** Deallocates {@code [offset, offset+len)}: PUNCH_HOLE on a file, BLKDISCARD on a block device. */
    public synchronized int discard(long offset, long len) {
        if (blockDevice) {
            return rangeIoctl(BlockConstants.BLKDISCARD, offset, len);
        }
        return Native.LIBC.fallocate(fd.fd(), BlockConstants.FALLOC_FL_PUNCH_HOLE | BlockConstants.FALLOC_FL_KEEP_SIZE,
                offset, len) == 0 ? 0 : -Native.errno();
    }

    /** Zeroes {@code [offset, offset+len)}; with {@code unmap}, by deallocating (reads return zeroes after). */
    public synchronized int writeZeroes(long offset, long len, boolean unmap) {
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
        fd.close();
        range.close();
    }

    @Override
    public String toString() {
        return path + " (" + size + " bytes, cache=" + cache + (readOnly ? ", read-only" : "") + ")";
    }
}

package dev.jvmm.virtio.blk.qcow2;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Native;

/** pread/pwrite loops over native memory that retry EINTR and short transfers. */
final class ImageIo {
    private ImageIo() {
    }

    /**
     * Reads up to {@code len} bytes at {@code off}; what lies past the end of the file reads as zeroes. Throws
     * {@link ErrnoException} on an I/O error.
     */
    static void preadZeroTail(int fd, long dst, long len, long off, String what) {
        long done = 0;
        while (done < len) {
            long r = Native.LIBC.pread(fd, dst + done, len - done, off + done);
            if (r < 0) {
                int e = Native.errno();
                if (e == Errno.EINTR) {
                    continue;
                }
                throw new ErrnoException("pread", e, what + " at " + (off + done));
            }
            if (r == 0) {
                Native.fill(dst + done, len - done, (byte) 0);
                return;
            }
            done += r;
        }
    }

    /** Writes all {@code len} bytes at {@code off}; throws {@link ErrnoException} on an I/O error. */
    static void pwriteFully(int fd, long src, long len, long off, String what) {
        long done = 0;
        while (done < len) {
            long r = Native.LIBC.pwrite(fd, src + done, len - done, off + done);
            if (r < 0) {
                int e = Native.errno();
                if (e == Errno.EINTR) {
                    continue;
                }
                throw new ErrnoException("pwrite", e, what + " at " + (off + done));
            }
            if (r == 0) {
                throw new ErrnoException("pwrite", Errno.EIO, what + " at " + (off + done) + " (no progress)");
            }
            done += r;
        }
    }

    static void fdatasync(int fd, String what) {
        if (Native.LIBC.fdatasync(fd) != 0) {
            throw new ErrnoException("fdatasync", Native.errno(), what);
        }
    }

    /** The file's size (lseek SEEK_END). */
    static long size(int fd, String what) {
        long s = Native.LIBC.lseek(fd, 0, Native.SEEK_END);
        if (s < 0) {
            throw new ErrnoException("lseek(SEEK_END)", Native.errno(), what);
        }
        return s;
    }

    static long getBE64(long address) {
        return Long.reverseBytes(Native.getLong(address));
    }

    static void putBE64(long address, long v) {
        Native.putLong(address, Long.reverseBytes(v));
    }
}

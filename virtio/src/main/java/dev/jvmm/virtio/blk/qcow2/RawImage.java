package dev.jvmm.virtio.blk.qcow2;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;

/**
 * A raw file as the backing file of a qcow2 image: read-only, the virtual disk is the file. Bytes past its end
 * read as zeroes (a backing file may be smaller than the image on top of it).
 */
public final class RawImage implements DiskImage {
    private final String path;
    private final Fd fd;
    private final long size;

    RawImage(String path, Fd fd) {
        this.path = path;
        this.fd = fd;
        this.size = ImageIo.size(fd.fd(), path);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public String format() {
        return "raw";
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public DiskImage backing() {
        return null;
    }

    @Override
    public void map(long off, long len, boolean write, Mapping m) {
        if (write) {
            m.error(Errno.EPERM, len);
        } else if (off >= size) {
            m.zero(len);
        } else {
            m.host(fd.fd(), off, Math.min(len, size - off));
        }
    }

    @Override
    public int read(long off, long len, long dst) {
        if (off >= size) {
            Native.fill(dst, len, (byte) 0);
            return 0;
        }
        try {
            ImageIo.preadZeroTail(fd.fd(), dst, len, off, path);
            return 0;
        } catch (ErrnoException e) {
            return -e.errno();
        }
    }

    @Override
    public int write(long off, long len, long src) {
        return -Errno.EPERM;
    }

    @Override
    public int discard(long off, long len) {
        return -Errno.EPERM;
    }

    @Override
    public int writeZeroes(long off, long len, boolean unmap) {
        return -Errno.EPERM;
    }

    @Override
    public int flush() {
        return 0;
    }

    @Override
    public int fd() {
        return fd.fd();
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return path + " (raw, " + size + " bytes)";
    }
}

package dev.jvmm.virtio.blk.qcow2;

/**
 * Where the next bytes of a request live, as {@link DiskImage#map} answers it. One per request slot, reused (nothing
 * is allocated per request).
 */
public final class Mapping {
    /** {@link #length} bytes at {@link #hostOffset} of file {@link #fd}: the caller transfers them itself. */
    public static final int HOST = 1;
    /** {@link #length} bytes that read as zeroes. */
    public static final int ZERO = 2;
    /** {@link #length} bytes that must go through {@link DiskImage#read}/{@link DiskImage#write} of {@link #image}. */
    public static final int INLINE = 3;
    /** The image could not say (a corrupt table, an I/O error reading metadata): {@link #errno}. */
    public static final int ERROR = 4;

    public int kind;
    public int fd;
    public long hostOffset;
    public long length;
    public int errno;
    /** The image that serves an INLINE range (the top image, or one of its backing files for a read). */
    public DiskImage image;

    void host(int fd, long hostOffset, long length) {
        this.kind = HOST;
        this.fd = fd;
        this.hostOffset = hostOffset;
        this.length = length;
    }

    void zero(long length) {
        this.kind = ZERO;
        this.length = length;
    }

    void inline(DiskImage image, long length) {
        this.kind = INLINE;
        this.image = image;
        this.length = length;
    }

    void error(int errno, long length) {
        this.kind = ERROR;
        this.errno = errno;
        this.length = length;
    }

    @Override
    public String toString() {
        return switch (kind) {
            case HOST -> "host(fd " + fd + " @" + hostOffset + " +" + length + ")";
            case ZERO -> "zero(+" + length + ")";
            case INLINE -> "inline(" + image.path() + " +" + length + ")";
            case ERROR -> "error(" + errno + ")";
            default -> "unset";
        };
    }
}

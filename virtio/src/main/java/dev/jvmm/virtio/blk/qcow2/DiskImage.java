package dev.jvmm.virtio.blk.qcow2;

/**
 * A disk image seen through its format: a qcow2 image ({@link Qcow2Image}) or a raw file ({@link RawImage}, as a
 * backing file). Offsets and lengths are in bytes of the virtual disk.
 *
 * <p>The data path asks {@link #map} where the next bytes of a request live; where they are one contiguous range of
 * a host file the caller does the I/O itself, straight from or into guest RAM (zero copy, with either engine).
 * A first write to a cluster that reads as zeroes is mapped too: the image allocates the cluster as it maps it.
 * Everything else (zeroes, compressed clusters, first writes over a backing file's or a compressed cluster's data)
 * goes through {@link #read} and
 * {@link #write}, synchronously, on the caller's thread. Those methods return 0 or {@code -errno} and never throw
 * on the data path; a corrupt structure found there answers {@code -EIO} and is logged.
 */
public interface DiskImage extends AutoCloseable {
    /** Virtual size in bytes. */
    long size();

    /** {@code qcow2} or {@code raw}. */
    String format();

    /** The file this image was opened from (as given, or as resolved from its parent's backing name). */
    String path();

    /** The image this one reads unallocated clusters from, or null. */
    DiskImage backing();

    /**
     * Where {@code [off, off+len)} starts to live: {@code m} says how many bytes from {@code off} (at least one
     * sector, at most {@code len}) are a host range ({@link Mapping#HOST}), read as zeroes ({@link Mapping#ZERO}),
     * must go through {@link #read}/{@link #write} ({@link Mapping#INLINE}), or failed ({@link Mapping#ERROR}).
     * A write is HOST only where the cluster is owned by this image alone: allocated before, or allocated by this
     * call where it read as zeroes.
     */
    void map(long off, long len, boolean write, Mapping m);

    /** Reads {@code len} bytes at {@code off} into native memory at {@code dst}. Returns 0 or -errno. */
    int read(long off, long len, long dst);

    /** Writes {@code len} bytes from native memory at {@code src} to {@code off}. Returns 0 or -errno. */
    int write(long off, long len, long src);

    /** Lets the image forget {@code [off, off+len)} (reads may return anything after). Returns 0 or -errno. */
    int discard(long off, long len);

    /** Makes {@code [off, off+len)} read as zeroes; {@code unmap} allows freeing it. Returns 0 or -errno. */
    int writeZeroes(long off, long len, boolean unmap);

    /**
     * Makes every completed write durable (fdatasync of this image's file), after handing back what the image holds
     * for itself (clusters reserved ahead, metadata not yet written), so that the file alone describes the disk: for
     * a snapshot, or for the destination of a migration, which opens the same file. Returns 0 or -errno.
     */
    int flush();

    /**
     * Reads again what another process may have changed in the file since it was opened (the source of a live
     * migration went on writing it until it paused and {@link #flush flushed}). Only for an image no request has used
     * since it was opened or flushed. Throws when the file no longer matches what was opened.
     */
    default void reload() {
    }

    /**
     * Writes the metadata whose write the image put off (see {@link Qcow2Image#deferFreshL2}), before a virtio FLUSH
     * syncs the file. Returns 0 or -errno.
     */
    default int writeBack() {
        return 0;
    }

    /** The descriptor of this image's own file (what a virtio FLUSH syncs). */
    int fd();

    /** Closes this image and its backing chain. Idempotent. */
    @Override
    void close();
}

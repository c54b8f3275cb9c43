package dev.jvmm.virtio;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;

/**
 * A reusable native {@code struct iovec} array (16 bytes each: base, len) built from a slice of a
 * {@link DescriptorChain}, so that readv/writev/preadv/pwritev go straight to guest RAM. One per queue; no
 * allocation per request.
 */
public final class Iovecs implements AutoCloseable {
    private final NativeBuffer buf;
    private final int capacity;
    private int start;
    private int count;
    private long total;

    public Iovecs(int capacity) {
        this.capacity = capacity;
        this.buf = new NativeBuffer(16L * capacity);
    }

    /**
     * Fills the array with segments {@code [from, to)} of {@code chain}, skipping {@code skipFront} bytes at the
     * start and leaving out {@code trimBack} bytes at the end. Returns the total length.
     */
    public long fill(DescriptorChain chain, int from, int to, long skipFront, long trimBack) {
        start = 0;
        count = 0;
        total = 0;
        long skip = skipFront;
        long available = 0;
        for (int i = from; i < to; i++) {
            available += chain.length(i);
        }
        long want = available - skipFront - trimBack;
        if (want <= 0) {
            return 0;
        }
        for (int i = from; i < to && total < want; i++) {
            long a = chain.address(i);
            long l = chain.length(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            a += skip;
            l -= skip;
            skip = 0;
            l = Math.min(l, want - total);
            long e = 16L * count;
            buf.putLong(e, a);
            buf.putLong(e + 8, l);
            count++;
            total += l;
        }
        return total;
    }

    /**
     * Fills the array with {@code len} bytes of {@code src}'s current segments, starting {@code skip} bytes in (one
     * host-contiguous piece of a request that a disk format splits). Returns the total length.
     */
    public long slice(Iovecs src, long skip, long len) {
        start = 0;
        count = 0;
        total = 0;
        for (int i = 0; i < src.count() && total < len; i++) {
            long a = src.base(i);
            long l = src.length(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            a += skip;
            l = Math.min(l - skip, len - total);
            skip = 0;
            long e = 16L * count;
            buf.putLong(e, a);
            buf.putLong(e + 8, l);
            count++;
            total += l;
        }
        return total;
    }

    public long address() {
        return buf.address() + 16L * start;
    }

    public int count() {
        return count - start;
    }

    public long total() {
        return total;
    }

    public long base(int i) {
        return buf.getLong(16L * (start + i));
    }

    public long length(int i) {
        return buf.getLong(16L * (start + i) + 8);
    }

    /** Whether every base and length is a multiple of {@code align} (O_DIRECT's rule). */
    public boolean aligned(int align) {
        for (int i = start; i < count; i++) {
            if (((buf.getLong(16L * i) | buf.getLong(16L * i + 8)) & (align - 1)) != 0) {
                return false;
            }
        }
        return true;
    }

    /** Drops the first {@code n} bytes (after a short transfer). */
    public void advance(long n) {
        while (n > 0 && start < count) {
            long l = buf.getLong(16L * start + 8);
            if (n >= l) {
                n -= l;
                start++;
            } else {
                buf.putLong(16L * start, buf.getLong(16L * start) + n);
                buf.putLong(16L * start + 8, l - n);
                n = 0;
            }
        }
    }

    /** Copies {@code len} bytes from {@code src} into the segments, from the start. Returns bytes copied. */
    public long copyIn(long src, long len) {
        long done = 0;
        for (int i = start; i < count && done < len; i++) {
            long l = Math.min(buf.getLong(16L * i + 8), len - done);
            Native.copy(src + done, buf.getLong(16L * i), l);
            done += l;
        }
        return done;
    }

    /** Copies up to {@code len} bytes out of the segments, starting {@code skip} bytes in, to {@code dst}. */
    public long copyOut(long skip, long dst, long len) {
        long done = 0;
        for (int i = start; i < count && done < len; i++) {
            long l = buf.getLong(16L * i + 8);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            long n = Math.min(l - skip, len - done);
            Native.copy(buf.getLong(16L * i) + skip, dst + done, n);
            skip = 0;
            done += n;
        }
        return done;
    }

    /** readv/writev-style result handling: -errno on failure except EINTR, which the caller retries. */
    public static boolean interrupted(long r) {
        return r < 0 && Native.errno() == Errno.EINTR;
    }

    @Override
    public void close() {
        buf.close();
    }
}

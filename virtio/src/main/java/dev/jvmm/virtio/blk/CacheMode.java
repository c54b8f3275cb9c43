package dev.jvmm.virtio.blk;

import dev.jvmm.virtio.VirtioException;
import java.util.Locale;

/** Host cache modes as QEMU defines them for {@code cache=}. */
public enum CacheMode {
    /** O_DIRECT: the host page cache is bypassed; FLUSH reaches the device with fdatasync. */
    NONE,
    /** The host page cache absorbs writes; FLUSH is fdatasync. The default. */
    WRITEBACK,
    /** O_DSYNC: every write is stable when it completes. */
    WRITETHROUGH,
    /** Page cache and FLUSH is ignored: fast, and loses data on a host crash. */
    UNSAFE;

    public static CacheMode parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new VirtioException(VirtioException.Reason.CONFIG,
                    "unknown cache mode '" + s + "' (expected none, writeback, writethrough or unsafe)");
        }
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}

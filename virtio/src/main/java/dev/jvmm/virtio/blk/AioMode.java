package dev.jvmm.virtio.blk;

import dev.jvmm.virtio.VirtioException;
import java.util.Locale;

/**
 * How a disk's requests reach the host (QEMU's {@code aio=} names): each queue keeps many requests in flight, through
 * a pool of I/O threads doing preadv/pwritev/fdatasync ({@link #THREADS}) or through an io_uring per queue
 * ({@link #IO_URING}). {@link #AUTO}, the default, takes io_uring where the kernel lets this process set one up and
 * threads otherwise.
 */
public enum AioMode {
    AUTO,
    THREADS,
    IO_URING;

    public static AioMode parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "auto" -> AUTO;
            case "threads" -> THREADS;
            case "io_uring" -> IO_URING;
            default -> throw new VirtioException(VirtioException.Reason.CONFIG,
                    "unknown aio mode '" + s + "' (expected threads, io_uring or auto)");
        };
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}

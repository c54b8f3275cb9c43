package dev.jvmm.vmm.config;

import java.nio.file.Path;

/**
 * The configuration of a virtio-rng device ({@code --rng [source=PATH][,max-bytes=N,period-ms=M]}, or the config
 * file's {@code "rng"}): an entropy source the guest reads through {@code /dev/hwrng}.
 *
 * @param source   the host file its bytes come from ({@code /dev/urandom} by default); opened when the VM is built,
 *                 and a source that cannot be opened fails the launch naming it
 * @param maxBytes the rate limit, as QEMU's {@code max-bytes}: at most this many bytes per {@code periodMs}; 0 for
 *                 no limit
 * @param periodMs the rate limit's period in milliseconds (QEMU's {@code period}); 0 when there is no limit
 */
public record RngConfig(Path source, long maxBytes, long periodMs) {
    /** The keys {@code --rng} accepts, in the order error messages list them. */
    public static final java.util.List<String> KEYS = java.util.List.of("source", "max-bytes", "period-ms");
    public static final Path DEFAULT_SOURCE = Path.of("/dev/urandom");
    /** The period when only {@code max-bytes} is given (QEMU's is 65536 ms; a second is what a limit usually means). */
    public static final long DEFAULT_PERIOD_MS = 1000;
    public static final long MAX_PERIOD_MS = 3_600_000;
    public static final long MAX_BYTES = 1L << 40;
    /** {@code --rng} alone: {@code /dev/urandom}, no limit. */
    public static final RngConfig DEFAULT = new RngConfig(DEFAULT_SOURCE, 0, 0);

    /** Whether the device is rate-limited. */
    public boolean limited() {
        return maxBytes > 0;
    }

    /** The CLI form, which parses back to this config. */
    @Override
    public String toString() {
        return "source=" + source + (limited() ? ",max-bytes=" + maxBytes + ",period-ms=" + periodMs : "");
    }
}

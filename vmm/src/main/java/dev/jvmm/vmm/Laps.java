package dev.jvmm.vmm;

/**
 * The time each step of a short sequence took, for a log line such as {@code pause 3 ms, flush 12 ms, state 40 ms}:
 * what a migration's switch-over and a restore report, so that a downtime can be read step by step. Not thread-safe.
 */
public final class Laps {
    private final StringBuilder text = new StringBuilder();
    private final long start = System.nanoTime();
    private long last = start;

    /** Ends the step {@code name} now. */
    public Laps lap(String name) {
        long now = System.nanoTime();
        if (!text.isEmpty()) {
            text.append(", ");
        }
        text.append(name).append(' ').append(ms(now - last)).append(" ms");
        last = now;
        return this;
    }

    /** The wall clock in nanoseconds since the epoch: what two processes (a migration's two ends) can compare. */
    public static long epochNanos() {
        java.time.Instant i = java.time.Instant.now();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }

    /** Milliseconds since this was made. */
    public long totalMs() {
        return (System.nanoTime() - start) / 1_000_000;
    }

    private static String ms(long nanos) {
        return nanos >= 10_000_000 ? Long.toString(nanos / 1_000_000) : String.format("%.1f", nanos / 1e6);
    }

    @Override
    public String toString() {
        return text.toString();
    }
}

package dev.jvmm.lab;

import java.util.Locale;

/** Formats lines as {@code [  12.345] text}: seconds since a start instant (the lab's QEMU launch). */
public final class Timestamped {
    private final long startNanos;

    public Timestamped(long startNanos) {
        this.startNanos = startNanos;
    }

    public static Timestamped startingNow() {
        return new Timestamped(System.nanoTime());
    }

    public double elapsedSeconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    public String format(String line) {
        return format(elapsedSeconds(), line);
    }

    public static String format(double seconds, String line) {
        return String.format(Locale.ROOT, "[%8.3f] %s", seconds, line);
    }
}

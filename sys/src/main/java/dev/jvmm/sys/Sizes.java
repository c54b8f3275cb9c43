package dev.jvmm.sys;

import java.util.Locale;

/**
 * Byte sizes as users write them ({@code 512M}, {@code 4G}, {@code 2GiB}, {@code 1048576K}) and as jvmm prints them
 * ({@code 1536M} exact, {@code 1.5 GiB} for people).
 */
public final class Sizes {
    public static final long KIB = 1L << 10;
    public static final long MIB = 1L << 20;

    private Sizes() {
    }

    /** {@link #parse(String, long)} with a bare number meaning bytes. */
    public static long parse(String text) {
        return parse(text, 1);
    }

    /**
     * Parses a non-negative whole number with an optional K, M, G or T suffix (powers of 1024, any case, optionally
     * followed by {@code i}, {@code B} or {@code iB}: {@code 4G}, {@code 4Gi}, {@code 4GiB}, {@code 4gb}); a bare
     * number (or one with only {@code B}) counts {@code bareUnit} bytes ({@code MIB} where memory sizes are
     * usually written in MiB). Anything else is an IllegalArgumentException whose message fits "OPTION: message".
     */
    public static long parse(String text, long bareUnit) {
        String hint = "\"" + text + "\" is not a size (use e.g. 512M or 2G)";
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException(hint);
        }
        String t = text.trim().toUpperCase(Locale.ROOT);
        boolean bytes = false;
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("I")) {
            t = t.substring(0, t.length() - 1);
        } else if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
            bytes = true;
        }
        long mult = bytes ? 1 : bareUnit;
        if (!t.isEmpty()) {
            long unit = switch (t.charAt(t.length() - 1)) {
                case 'K' -> 1L << 10;
                case 'M' -> 1L << 20;
                case 'G' -> 1L << 30;
                case 'T' -> 1L << 40;
                default -> 0;
            };
            if (unit != 0) {
                mult = unit;
                t = t.substring(0, t.length() - 1);
            } else if (!bytes && text.trim().length() != t.length()) {
                throw new IllegalArgumentException(hint); // "512i": a binary prefix without a unit
            }
        }
        if (t.isEmpty() || t.length() > 18 || !t.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException(hint);
        }
        long n = Long.parseLong(t);
        if (n > Long.MAX_VALUE / mult) {
            throw new IllegalArgumentException(hint);
        }
        return n * mult;
    }

    /** 512M, 2G, 1536M: the shortest exact form (as {@link #parse} reads it back). */
    public static String format(long bytes) {
        String[] u = {"", "K", "M", "G", "T"};
        int k = 0;
        while (k < 4 && bytes != 0 && bytes % 1024 == 0) {
            bytes /= 1024;
            k++;
        }
        return bytes + u[k];
    }

    /** {@code 1073741824} → {@code 1 GiB}; exact multiples below 1024 of a unit stay exact, others get one decimal ({@code 23.5 GiB}). */
    public static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        int u = 0;
        long v = bytes;
        while (u < units.length - 1 && v >= 1024 && v % 1024 == 0) {
            v /= 1024;
            u++;
        }
        if (v < 1024 || u == units.length - 1) {
            return v + " " + units[u];
        }
        int w = 0;
        double d = bytes;
        while (w < units.length - 1 && d >= 1024) {
            d /= 1024;
            w++;
        }
        return String.format(Locale.ROOT, "%.1f %s", d, units[w]);
    }
}

package dev.jvmm.probe;

import java.util.Locale;

/** Byte sizes as users write them ({@code 512M}, {@code 4G}, {@code 1073741824}) and as the report prints them. */
public final class Sizes {
    private Sizes() {
    }

    /** Parses a size with an optional K, M, G or T suffix (powers of 1024; a trailing B or iB is accepted). */
    public static long parse(String s) {
        if (s == null || s.isBlank()) {
            throw bad(s, "empty");
        }
        String t = s.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
        }
        int shift = 0;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                default -> shift = -1;
            }
            if (shift >= 0) {
                t = t.substring(0, t.length() - 1);
            } else {
                shift = 0;
            }
        }
        long v;
        try {
            v = Long.parseLong(t.trim());
        } catch (NumberFormatException e) {
            throw bad(s, "not a number with an optional K/M/G/T suffix");
        }
        if (v <= 0) {
            throw bad(s, "must be positive");
        }
        if (shift > 0 && v > (Long.MAX_VALUE >> shift)) {
            throw bad(s, "too large");
        }
        return v << shift;
    }

    private static ProbeException bad(String s, String why) {
        return new ProbeException(ProbeException.Reason.BAD_ARGUMENT, "invalid size '" + s + "': " + why);
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

package dev.jvmm.vmm.config;


/** Memory sizes as users write them: {@code 512M}, {@code 2G}, {@code 1048576K}; a bare number means MiB. */
public final class Sizes {
    private Sizes() {
    }

    /** Parses {@code text}; throws IllegalArgumentException with a message fit for "FIELD: message". */
    public static long parse(String text) {
        String t = text.trim();
        String hint = "\"" + text + "\" is not a size (use e.g. 512M or 2G)";
        if (t.isEmpty()) {
            throw new IllegalArgumentException(hint);
        }
        char last = Character.toUpperCase(t.charAt(t.length() - 1));
        long mult;
        String digits = t.substring(0, t.length() - 1);
        switch (last) {
            case 'K' -> mult = 1L << 10;
            case 'M' -> mult = 1L << 20;
            case 'G' -> mult = 1L << 30;
            case 'T' -> mult = 1L << 40;
            default -> {
                mult = 1L << 20;
                digits = t;
            }
        }
        if (digits.endsWith("i") || digits.endsWith("I")) {
            digits = digits.substring(0, digits.length() - 1); // accept 512Mi
        }
        if (digits.isEmpty() || !digits.chars().allMatch(Character::isDigit) || digits.length() > 12) {
            throw new IllegalArgumentException(hint);
        }
        long n = Long.parseLong(digits);
        if (n > Long.MAX_VALUE / mult) {
            throw new IllegalArgumentException(hint);
        }
        return n * mult;
    }

    /** 512M, 2G, 1536M: the shortest exact form. */
    public static String format(long bytes) {
        String[] u = {"", "K", "M", "G", "T"};
        int k = 0;
        while (k < 4 && bytes != 0 && bytes % 1024 == 0) {
            bytes /= 1024;
            k++;
        }
        return bytes + u[k];
    }
}

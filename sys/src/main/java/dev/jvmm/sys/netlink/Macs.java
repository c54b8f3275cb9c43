package dev.jvmm.sys.netlink;

/** MAC address text form {@code 52:54:00:12:34:56} (lower case, colon separated). */
public final class Macs {
    private Macs() {
    }

    public static String format(byte[] mac) {
        StringBuilder s = new StringBuilder(mac.length * 3);
        for (int i = 0; i < mac.length; i++) {
            if (i > 0) {
                s.append(':');
            }
            s.append(Character.forDigit((mac[i] >> 4) & 0xf, 16)).append(Character.forDigit(mac[i] & 0xf, 16));
        }
        return s.toString();
    }

    /** Parses {@code 52:54:00:12:34:56} (or with {@code -}); any other form is an IllegalArgumentException naming it. */
    public static byte[] parse(String text) {
        String[] parts = text.trim().split("[:-]", -1);
        if (parts.length != 6) {
            throw new IllegalArgumentException("MAC address '" + text + "' must have 6 hex bytes like 52:54:00:12:34:56");
        }
        byte[] r = new byte[6];
        for (int i = 0; i < 6; i++) {
            if (parts[i].length() != 2) {
                throw new IllegalArgumentException("MAC address '" + text + "' must have 6 hex bytes like 52:54:00:12:34:56");
            }
            try {
                r[i] = (byte) Integer.parseInt(parts[i], 16);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("MAC address '" + text + "' has a non-hex byte '" + parts[i] + "'");
            }
        }
        return r;
    }

    /** Canonical form of {@code text} (lower case, colons); throws like {@link #parse(String)}. */
    public static String normalize(String text) {
        return format(parse(text));
    }
}

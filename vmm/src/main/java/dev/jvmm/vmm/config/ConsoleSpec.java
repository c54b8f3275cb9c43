package dev.jvmm.vmm.config;

import java.nio.file.Path;

/**
 * Where a console goes: {@code stdio}, {@code file=PATH} (output only) or {@code socket=PATH} (a unix socket); the
 * form of {@code --console} (the 16550) and of {@code --virtio-console} (hvc0).
 */
public record ConsoleSpec(Kind kind, Path path) {
    public enum Kind { STDIO, FILE, SOCKET, NONE }

    public static final ConsoleSpec STDIO = new ConsoleSpec(Kind.STDIO, null);

    /** Parses the CLI/config form; throws IllegalArgumentException naming what is wrong. */
    public static ConsoleSpec parse(String s) {
        String t = s.trim();
        if (t.equals("stdio")) {
            return STDIO;
        }
        if (t.equals("none") || t.equals("off")) {
            return new ConsoleSpec(Kind.NONE, null);
        }
        if (t.startsWith("file=") && t.length() > 5) {
            return new ConsoleSpec(Kind.FILE, path(t.substring(5)));
        }
        if (t.startsWith("socket=") && t.length() > 7) {
            return new ConsoleSpec(Kind.SOCKET, path(t.substring(7)));
        }
        if (t.equals("virtio")) {
            throw new IllegalArgumentException("\"virtio\" is not where a console goes: --console is the 16550's host "
                    + "end (stdio, none, file=PATH or socket=PATH); a virtio console (hvc0) is --virtio-console SPEC, "
                    + "next to it");
        }
        throw new IllegalArgumentException("\"" + s + "\" is not a console (use stdio, none, file=PATH or socket=PATH)");
    }

    /**
     * The path of {@code s}, which must read back the same from {@link #toString} (a snapshot's config.json keeps it):
     * the spec is trimmed, so a path whose own form (trailing slashes dropped) begins or ends with white space or a
     * control character is refused, as is one with a NUL byte.
     */
    static Path path(String s) {
        Path p;
        try {
            p = Path.of(s);
        } catch (java.nio.file.InvalidPathException e) { // a NUL byte: no file has such a name
            throw new IllegalArgumentException("\"" + s.replace("\0", "\\0") + "\" is not a file name: "
                    + e.getReason());
        }
        String n = p.toString();
        for (int i = 0; i < n.length(); i++) {
            char c = n.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                throw new IllegalArgumentException("\"" + s + "\" is not a file name: control character 0x"
                        + Integer.toHexString(c) + " at " + i);
            }
        }
        if (n.isEmpty() || !n.equals(n.strip())) {
            throw new IllegalArgumentException("\"" + s + "\" is not a file name: it begins or ends with white space");
        }
        return p;
    }

    @Override
    public String toString() {
        return switch (kind) {
            case STDIO -> "stdio";
            case NONE -> "none";
            case FILE -> "file=" + path;
            case SOCKET -> "socket=" + path;
        };
    }
}

package dev.jvmm.lab;

import java.util.List;
import java.util.stream.Collectors;

/** POSIX shell quoting for commands the lab writes into L1 scripts. */
public final class ShellQuote {
    private ShellQuote() {
    }

    /** Single-quotes {@code s} unless it is made only of safe characters. */
    public static String quote(String s) {
        if (!s.isEmpty() && s.matches("[A-Za-z0-9_@%+=:,./-]+")) {
            return s;
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** The words as one shell command line. */
    public static String join(List<String> words) {
        return words.stream().map(ShellQuote::quote).collect(Collectors.joining(" "));
    }
}

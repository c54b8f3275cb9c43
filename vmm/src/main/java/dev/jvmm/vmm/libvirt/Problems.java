package dev.jvmm.vmm.libvirt;

import dev.jvmm.vmm.VmmException;
import java.util.function.Consumer;

/**
 * What a translation found that jvmm cannot do. Unsupported things are errors, or with {@code --lenient} warnings
 * (the element or attribute is then skipped); fatal ones (no kernel, another architecture, a value that cannot be
 * read) are errors either way. Every message starts with the file and the location in it.
 */
final class Problems {
    private final String file;
    private final boolean lenient;
    private final Consumer<String> warn;
    private int warnings;

    Problems(String file, boolean lenient, Consumer<String> warn) {
        this.file = file;
        this.lenient = lenient;
        this.warn = warn;
    }

    /** jvmm cannot do what {@code where} asks: an error, or with --lenient a warning (and the caller skips it). */
    void unsupported(String where, String msg) {
        if (!lenient) {
            throw fail(where, msg);
        }
        warnings++;
        warn.accept("warning: " + file + ": " + where + ": " + msg + "; skipped (--lenient)");
    }

    /** An error even with --lenient. */
    VmmException fail(String where, String msg) {
        return new VmmException(VmmException.Reason.CONFIG, file + ": " + where + ": " + msg);
    }

    int warnings() {
        return warnings;
    }

    String file() {
        return file;
    }

    /** At most 60 characters of {@code s}, for messages. */
    static String shorten(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}

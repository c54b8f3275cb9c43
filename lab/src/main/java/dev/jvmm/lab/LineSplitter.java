package dev.jvmm.lab;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Splits a byte stream that arrives in chunks into UTF-8 lines for a line sink; keeps an incomplete trailing line
 * (and a split multibyte character) until the next chunk. Used for the output of lab commands (tailed from the run
 * share) and of host tools (apt's progress).
 */
final class LineSplitter {
    private final Consumer<String> sink;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    /** @param sink receives each complete line (without its newline); may be null */
    LineSplitter(Consumer<String> sink) {
        this.sink = sink;
    }

    /** The first {@code n} bytes of {@code b}; each complete line also goes to {@code output} (may be null). */
    void accept(byte[] b, int n, StringBuilder output) {
        for (int i = 0; i < n; i++) {
            if (b[i] == '\n') {
                String line = pending.toString(StandardCharsets.UTF_8);
                pending.reset();
                if (output != null) {
                    output.append(line).append('\n');
                }
                if (sink != null) {
                    sink.accept(line);
                }
            } else {
                pending.write(b[i]);
            }
        }
    }

    /** The stream ended: an unterminated last line goes to the sink too. */
    void finish() {
        if (pending.size() > 0) {
            String line = pending.toString(StandardCharsets.UTF_8);
            pending.reset();
            if (sink != null) {
                sink.accept(line);
            }
        }
    }
}

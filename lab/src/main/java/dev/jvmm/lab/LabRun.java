package dev.jvmm.lab;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;

/**
 * {@code jvmm lab run -- CMD...}: boots L1, runs CMD in it (in the caller's working directory, with the host's JVM
 * and the project's jars at their usual paths), streams CMD's output as {@code [  12.345] line} (seconds since the
 * QEMU launch) and returns CMD's exit code (124 when it timed out, as timeout(1) does).
 */
public final class LabRun {

    public static final int EXIT_TIMEOUT = 124;

    private LabRun() {
    }

    /**
     * @param verbose also stream L1's serial console to {@code err}
     */
    public static int run(LabConfig cfg, List<String> command, Duration timeout, boolean verbose, PrintStream out,
                          PrintStream err) {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("no command given: jvmm lab run -- CMD [ARGS...]");
        }
        try (LabSession lab = LabSession.start(cfg, err::println, verbose ? err::println : null)) {
            err.println(lab.clock().format("lab: L1 ready (" + lab.kit().release() + "), running: "
                    + ShellQuote.join(command)));
            CommandResult r = lab.run(LabCommand.of(ShellQuote.join(command)).timeout(timeout)
                    .lines(line -> out.println(lab.clock().format(line))));
            out.flush();
            err.println(lab.clock().format("lab: exit " + r.exitCode() + (r.timedOut() ? " (timed out after "
                    + timeout.toSeconds() + " s)" : "") + String.format(", command took %.1f s",
                    r.duration().toMillis() / 1000.0)));
            return r.timedOut() ? EXIT_TIMEOUT : r.exitCode();
        }
    }
}

package dev.jvmm.lab;

import java.time.Duration;

/**
 * One command's outcome inside L1: its exit code (137 when it was killed at its timeout), its stdout and stderr
 * merged, and how long it ran (measured on the host, from submission to result).
 */
public record CommandResult(String command, int exitCode, String output, Duration duration, boolean timedOut) {
    public boolean ok() {
        return exitCode == 0 && !timedOut;
    }

    /** Throws an {@link AssertionError} with the output when the command did not exit 0; returns this otherwise. */
    public CommandResult assertOk() {
        if (!ok()) {
            throw new AssertionError("lab command failed (exit " + exitCode + (timedOut ? ", timed out" : "") + "): "
                    + command + "\n" + output);
        }
        return this;
    }

    /** The lines of the output. */
    public java.util.List<String> lines() {
        return output.lines().toList();
    }
}

package dev.jvmm.vmm.cli;

import dev.jvmm.sys.FileErrors;
import picocli.CommandLine;

/**
 * Prints a failure as its cause chain ({@code Error: ... / caused by: ...}); the stack trace only with
 * {@code --debug} or {@code JVMM_DEBUG=1}. Exit codes are documented in docs/cli.md.
 */
final class ErrorHandler implements CommandLine.IExecutionExceptionHandler {
    /** A command failed for a reason it reported. */
    static final int EXIT_FAILURE = 1;

    @Override
    public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parseResult) {
        return report(ex, cl.getErr(), debug(parseResult));
    }

    /**
     * Prints {@code ex} as {@code Error: ...} and one {@code caused by: ...} line per cause that adds something
     * (file-system failures with path and reason; a cause whose message the line before already holds is left out), the stack trace when {@code debug}; returns the exit code it maps to.
     */
    static int report(Throwable ex, java.io.PrintWriter err, boolean debug) {
        String said = message(ex);
        err.println("Error: " + said);
        for (Throwable c = ex.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            String m = message(c);
            if (said.contains(m)) {
                continue; // a wrapper that added context: its cause says nothing new
            }
            err.println("  caused by: " + m);
            said = m;
        }
        if (debug || "1".equals(System.getenv("JVMM_DEBUG"))) {
            ex.printStackTrace(err);
        }
        err.flush();
        return ex instanceof ExitCodeException e ? e.exitCode() : EXIT_FAILURE;
    }

    private static boolean debug(CommandLine.ParseResult pr) {
        for (CommandLine.ParseResult p = pr; p != null; p = p.subcommand()) {
            if (p.originalArgs().contains("--debug")) {
                return true;
            }
        }
        return false;
    }

    private static String message(Throwable t) {
        return FileErrors.describe(t);
    }
}

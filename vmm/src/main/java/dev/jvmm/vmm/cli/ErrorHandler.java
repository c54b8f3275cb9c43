package dev.jvmm.vmm.cli;

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
        var err = cl.getErr();
        err.println("Error: " + message(ex));
        for (Throwable c = ex.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            err.println("  caused by: " + message(c));
        }
        if (debug(parseResult)) {
            ex.printStackTrace(err);
        }
        err.flush();
        if (ex instanceof ExitCodeException e) {
            return e.exitCode();
        }
        return EXIT_FAILURE;
    }

    private static boolean debug(CommandLine.ParseResult pr) {
        if ("1".equals(System.getenv("JVMM_DEBUG"))) {
            return true;
        }
        for (CommandLine.ParseResult p = pr; p != null; p = p.subcommand()) {
            if (p.originalArgs().contains("--debug")) {
                return true;
            }
        }
        return false;
    }

    private static String message(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }
}

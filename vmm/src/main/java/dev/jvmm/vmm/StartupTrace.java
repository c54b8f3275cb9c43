package dev.jvmm.vmm;

/**
 * Start-up phase trace for {@code jvmm launch} (docs/performance.md): with {@code JVMM_TRACE_STARTUP=1} in the
 * environment, every {@link #mark} prints {@code jvmm-startup: +N ms <phase>} to stderr, N being the milliseconds
 * since the JVM process started (the kernel's start time of the process, so the JVM's own boot is included). Off, a
 * mark costs one static boolean test and loads nothing.
 */
public final class StartupTrace {
    private static final boolean ON = "1".equals(System.getenv("JVMM_TRACE_STARTUP"));
    private static final long START_MS = ON ? processStartMillis() : 0;

    private StartupTrace() {
    }

    public static boolean enabled() {
        return ON;
    }

    /** Prints the phase with the time since the process started, when tracing is on. */
    public static void mark(String phase) {
        if (ON) {
            System.err.println("jvmm-startup: +" + (System.currentTimeMillis() - START_MS) + " ms " + phase);
        }
    }

    private static long processStartMillis() {
        return ProcessHandle.current().info().startInstant().map(java.time.Instant::toEpochMilli)
                .orElse(System.currentTimeMillis());
    }
}

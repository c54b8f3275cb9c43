package dev.jvmm.vmm;

/**
 * Start-up phase trace for {@code jvmm launch} (docs/performance.md): with {@code JVMM_TRACE_STARTUP=1} in the
 * environment, every {@link #mark} prints {@code jvmm-startup: +N ms <phase>} to stderr, N being the milliseconds
 * since the process started, so the JVM's own boot is included. Off, a mark costs one static boolean test and loads
 * nothing.
 *
 * <p>The start: the {@code ./jvmm} launcher's own first line when it exec'd this JVM ({@code JVMM_T0_US}, its
 * {@code $EPOCHREALTIME} in microseconds, with {@code JVMM_T0_PID} its pid, which exec keeps: a variable inherited
 * by some other process is ignored); else the kernel's start time of the process from {@code /proc}, to a clock
 * tick (10 ms). Not {@code ProcessHandle.Info.startInstant()}: it adds the boot time in whole seconds, so its
 * figures were off by up to a second.
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

    /** Milliseconds since the process started (as {@link #mark} counts them; also with the trace off). */
    public static long millisSinceStart() {
        return System.currentTimeMillis() - (ON ? START_MS : processStartMillis());
    }

    /** The process's start in {@link System#currentTimeMillis()} terms. */
    static long processStartMillis() {
        String t0 = System.getenv("JVMM_T0_US");
        String pid = System.getenv("JVMM_T0_PID");
        if (t0 != null && pid != null && pid.equals(Long.toString(ProcessHandle.current().pid()))) {
            long us = 0; // "1733456789.123456", with the locale's decimal point; no regex (classes to load)
            int digits = 0;
            for (int i = 0; i < t0.length(); i++) {
                char c = t0.charAt(i);
                if (c >= '0' && c <= '9') {
                    us = us * 10 + (c - '0');
                    digits++;
                }
            }
            if (digits > 6 && digits < 19) {
                return us / 1000;
            }
        }
        try {
            // field 22 of /proc/self/stat: start time in clock ticks (USER_HZ, 100) after boot; /proc/uptime: now
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long startTicks = Long.parseLong(f[19]);
            String up = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/uptime"));
            long upMs = Math.round(Double.parseDouble(up.substring(0, up.indexOf(' '))) * 1000);
            return System.currentTimeMillis() - (upMs - startTicks * 10);
        } catch (java.io.IOException | RuntimeException e) {
            return ProcessHandle.current().info().startInstant().map(java.time.Instant::toEpochMilli)
                    .orElse(System.currentTimeMillis());
        }
    }
}

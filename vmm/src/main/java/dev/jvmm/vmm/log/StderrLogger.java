package dev.jvmm.vmm.log;

import java.io.PrintStream;

import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;

/**
 * The CLI's logger: {@code [thread] LEVEL logger - message} on stderr, the format of slf4j-simple, whose level
 * properties it reads ({@code -Dorg.slf4j.simpleLogger.defaultLogLevel=debug},
 * {@code -Dorg.slf4j.simpleLogger.log.dev.jvmm.virtio.blk=debug}). The level is fixed when the logger is made.
 */
final class StderrLogger extends LegacyAbstractLogger {
    private static final long serialVersionUID = 1L;
    static final String PREFIX = "org.slf4j.simpleLogger.";
    private final int threshold;

    StderrLogger(String name) {
        this.name = name;
        this.threshold = threshold(name);
    }

    /**
     * The lowest level {@code name} logs at: that of the longest {@code org.slf4j.simpleLogger.log.PREFIX} property
     * that matches, else {@code org.slf4j.simpleLogger.defaultLogLevel}, else info.
     */
    static int threshold(String name) {
        for (String n = name; !n.isEmpty(); n = n.substring(0, Math.max(n.lastIndexOf('.'), 0))) {
            String v = System.getProperty(PREFIX + "log." + n);
            if (v != null) {
                return level(v);
            }
        }
        String v = System.getProperty(PREFIX + "defaultLogLevel");
        return v == null ? Level.INFO.toInt() : level(v);
    }

    /** trace, debug, info, warn, error or off (any case), as a threshold; anything else is info. */
    static int level(String v) {
        return switch (v.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "trace" -> Level.TRACE.toInt();
            case "debug" -> Level.DEBUG.toInt();
            case "warn" -> Level.WARN.toInt();
            case "error" -> Level.ERROR.toInt();
            case "off" -> Integer.MAX_VALUE;
            default -> Level.INFO.toInt();
        };
    }

    private boolean on(Level l) {
        return l.toInt() >= threshold;
    }

    @Override
    public boolean isTraceEnabled() {
        return on(Level.TRACE);
    }

    @Override
    public boolean isDebugEnabled() {
        return on(Level.DEBUG);
    }

    @Override
    public boolean isInfoEnabled() {
        return on(Level.INFO);
    }

    @Override
    public boolean isWarnEnabled() {
        return on(Level.WARN);
    }

    @Override
    public boolean isErrorEnabled() {
        return on(Level.ERROR);
    }

    @Override
    protected String getFullyQualifiedCallerName() {
        return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, Marker marker, String pattern, Object[] args,
            Throwable t) {
        String msg = MessageFormatter.basicArrayFormat(pattern, args);
        String line = "[" + Thread.currentThread().getName() + "] " + level + " " + name + " - " + msg;
        PrintStream err = System.err;
        synchronized (err) {
            err.println(line);
            if (t != null) {
                t.printStackTrace(err);
            }
        }
    }
}

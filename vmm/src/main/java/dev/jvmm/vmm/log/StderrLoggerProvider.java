package dev.jvmm.vmm.log;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.helpers.NOPMDCAdapter;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * The SLF4J provider of the {@code jvmm} CLI ({@link StderrLogger}). The CLI's entry points name it with the
 * {@code slf4j.provider} system property before any logger exists, so SLF4J neither scans the class path for
 * providers nor starts a logging library at every launch: slf4j-simple's configuration spun lambda classes that
 * cost a measurable part of {@code jvmm launch}'s start-up in the lab (docs/performance.md). Not registered as a
 * service: tests keep whatever provider their class path has.
 */
public final class StderrLoggerProvider implements SLF4JServiceProvider {
    private final ConcurrentMap<String, Logger> loggers = new ConcurrentHashMap<>();
    private final ILoggerFactory factory = name -> loggers.computeIfAbsent(name, StderrLogger::new);
    private final IMarkerFactory markers = new BasicMarkerFactory();
    private final MDCAdapter mdc = new NOPMDCAdapter();

    /** Makes this the SLF4J provider unless {@code slf4j.provider} is already set; call before the first logger. */
    public static void install() {
        if (System.getProperty("slf4j.provider") == null) {
            System.setProperty("slf4j.provider", StderrLoggerProvider.class.getName());
            if (System.getProperty("slf4j.internal.verbosity") == null) {
                System.setProperty("slf4j.internal.verbosity", "WARN"); // no "SLF4J(I): Attempting to load provider"
            }
        }
    }

    /**
     * Makes the loggers under {@code prefix} (e.g. {@code org.eclipse.jetty}) log at {@code level} and above, unless
     * the user set a level for them ({@code -Dorg.slf4j.simpleLogger.log.PREFIX=...}). Call before the first of those
     * loggers exists (a logger's level is fixed when it is made). slf4j-simple, the tests' provider, reads the same
     * property.
     */
    public static void levelUnlessSet(String prefix, String level) {
        String key = StderrLogger.PREFIX + "log." + prefix;
        if (System.getProperty(key) == null) {
            System.setProperty(key, level);
        }
    }

    @Override
    public ILoggerFactory getLoggerFactory() {
        return factory;
    }

    @Override
    public IMarkerFactory getMarkerFactory() {
        return markers;
    }

    @Override
    public MDCAdapter getMDCAdapter() {
        return mdc;
    }

    @Override
    public String getRequestedApiVersion() {
        return "2.0.99";
    }

    @Override
    public void initialize() {
    }
}

package dev.jvmm.vmm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.Classpath;
import dev.jvmm.lab.ShellQuote;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the vmm lab tests share: jvmm's CLI as a shell command for L1, and reading tagged lines of its output. */
final class LabCli {
    private LabCli() {
    }

    /** {@code jvmm ARGS} as one shell command line in L1: this build's classes, JIT flags for a short JVM under TCG. */
    static String jvmm(String... args) {
        List<String> w = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", Classpath.current(), "dev.jvmm.vmm.cli.Jvmm"));
        w.addAll(List.of(args));
        return ShellQuote.join(w);
    }

    /** {@code jvmm remote ARGS} as one shell command line in L1, through its own quick entry point (as ./jvmm runs it). */
    static String remote(String... args) {
        List<String> w = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", Classpath.current(), "dev.jvmm.vmm.cli.RemoteCommand"));
        w.addAll(List.of(args));
        return ShellQuote.join(w);
    }

    /** The rest of the first line of {@code out} that starts with {@code key} (a regular expression); fails if none. */
    static String line(String out, String key) {
        Matcher m = Pattern.compile("(?m)^" + key + " ?(.*)$").matcher(out);
        assertTrue(m.find(), key + " missing:\n" + out);
        return JVMM_LOG_TAIL.matcher(m.group(1)).replaceFirst("").strip();
    }

    /**
     * A jvmm log record that landed at the end of a guest's console line (the guest's output and jvmm's log share a
     * file, and a record can come before the guest's newline): {@code [api-23] INFO dev.jvmm.vmm.api.ApiServer - ...}.
     */
    private static final Pattern JVMM_LOG_TAIL =
            Pattern.compile("\\[[\\w.-]+\\] (TRACE|DEBUG|INFO|WARN|ERROR) dev\\.jvmm\\.\\S+ - .*$");
}

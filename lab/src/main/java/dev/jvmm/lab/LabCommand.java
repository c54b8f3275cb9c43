package dev.jvmm.lab;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A shell command to run inside L1 ({@code /bin/sh} of the host, chrooted into the host root), with its timeout,
 * working directory (a host path; default: this JVM's working directory), extra environment and an optional sink
 * that receives each output line as it arrives.
 */
public record LabCommand(String shell, Duration timeout, Path workDir, Map<String, String> env, Consumer<String> lines) {

    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

    public LabCommand {
        env = Map.copyOf(env);
    }

    public static LabCommand of(String shell) {
        return new LabCommand(shell, DEFAULT_TIMEOUT, Path.of(System.getProperty("user.dir")), Map.of(), null);
    }

    public LabCommand timeout(Duration t) {
        return new LabCommand(shell, t, workDir, env, lines);
    }

    public LabCommand workDir(Path dir) {
        return new LabCommand(shell, timeout, dir, env, lines);
    }

    public LabCommand env(String key, String value) {
        Map<String, String> e = new LinkedHashMap<>(env);
        e.put(key, value);
        return new LabCommand(shell, timeout, workDir, e, lines);
    }

    public LabCommand lines(Consumer<String> sink) {
        return new LabCommand(shell, timeout, workDir, env, sink);
    }
}

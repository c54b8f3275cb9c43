package dev.jvmm.lab;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs short host tools (apt-get, depmod, gcc, ...) and captures their output. Kills only its own child. */
final class Proc {

    /** Exit code and merged stdout+stderr of a finished tool. */
    record Result(List<String> command, int exitCode, String output) {
        boolean ok() {
            return exitCode == 0;
        }

        /** The tail of the output, for error messages. */
        String tail() {
            String o = output.strip();
            return o.length() <= 2000 ? o : "..." + o.substring(o.length() - 2000);
        }
    }

    private Proc() {
    }

    static Result run(List<String> command, Path dir, Duration timeout) {
        return run(command, dir, timeout, Map.of());
    }

    static Result run(List<String> command, Path dir, Duration timeout, Map<String, String> env) {
        return run(command, dir, timeout, env, null);
    }

    /** As {@link #run(List, Path, Duration, Map)}, giving each output line to {@code lines} as it arrives. */
    static Result run(List<String> command, Path dir, Duration timeout, Map<String, String> env,
                      java.util.function.Consumer<String> lines) {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new LabException(LabException.Reason.MISSING_PREREQUISITE,
                    "cannot run " + command.get(0) + " (is it installed? try: jvmm lab setup)", e);
        }
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> copy(p.getInputStream(), buf, lines), "proc-" + command.get(0));
        reader.setDaemon(true);
        reader.start();
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new LabException(LabException.Reason.TIMEOUT,
                        String.join(" ", command) + " did not finish within " + timeout.toSeconds() + " s");
            }
            reader.join(5000);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new LabException(LabException.Reason.TIMEOUT, "interrupted while running " + command.get(0), e);
        }
        String out;
        synchronized (buf) {
            out = buf.toString(StandardCharsets.UTF_8);
        }
        return new Result(List.copyOf(command), p.exitValue(), out);
    }

    /** Runs and throws a {@link LabException} with the given reason when the tool fails. */
    static Result check(LabException.Reason reason, List<String> command, Path dir, Duration timeout) {
        Result r = run(command, dir, timeout);
        if (!r.ok()) {
            throw new LabException(reason, String.join(" ", command) + " failed (exit " + r.exitCode() + "): " + r.tail());
        }
        return r;
    }

    private static void copy(InputStream in, ByteArrayOutputStream out, java.util.function.Consumer<String> lines) {
        byte[] b = new byte[8192];
        LineSplitter splitter = lines == null ? null : new LineSplitter(lines);
        try (in) {
            int n;
            while ((n = in.read(b)) > 0) {
                synchronized (out) {
                    out.write(b, 0, n);
                }
                if (splitter != null) {
                    splitter.accept(b, n, null);
                }
            }
        } catch (IOException ignored) {
            // the process ended; what was read is kept
        }
        if (splitter != null) {
            splitter.finish();
        }
    }

    /** True when {@code name} resolves to an executable on PATH (or is an absolute executable path). */
    static boolean onPath(String name) {
        return which(name) != null;
    }

    static Path which(String name) {
        if (name.contains("/")) {
            Path p = Path.of(name);
            return java.nio.file.Files.isExecutable(p) ? p : null;
        }
        String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
        path = path + ":/usr/local/sbin:/usr/sbin:/sbin";
        for (String d : path.split(":")) {
            if (d.isEmpty()) {
                continue;
            }
            Path p = Path.of(d, name);
            if (java.nio.file.Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }
}

package dev.jvmm.virtio.blk.qcow2;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real {@code qemu-img} / {@code qemu-io} (package qemu-utils) for the qcow2 tests. They are the truth
 * these tests compare with, so a missing tool fails the test (it is never skipped): ./run-tests installs qemu-utils.
 */
final class QemuImg {
    record Out(int rc, String stdout, String stderr) {
    }

    private QemuImg() {
    }

    static Out run(String... cmd) {
        List<String> c = new ArrayList<>(List.of(cmd));
        try {
            // stderr goes to a file: read after stdout, a pipe would fill (qemu-img check prints a line per leaked
            // cluster) and block the tool while this waits for its stdout to end
            java.io.File errFile = java.io.File.createTempFile("qemu-img", ".err");
            byte[] out;
            byte[] err;
            Process p;
            try {
                p = new ProcessBuilder(c).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                        .redirectError(errFile).start();
                out = p.getInputStream().readAllBytes();
                p.waitFor();
                err = java.nio.file.Files.readAllBytes(errFile.toPath());
            } finally {
                errFile.delete();
            }
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(String.join(" ", c) + ": timed out");
            }
            return new Out(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            fail(cmd[0] + " is needed by the qcow2 tests and could not be run (" + e.getMessage()
                    + "); install it: apt-get install qemu-utils (./run-tests does)");
            throw new AssertionError();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Runs and fails the test on a non-zero exit. */
    static String ok(String... cmd) {
        Out o = run(cmd);
        if (o.rc() != 0) {
            fail(String.join(" ", cmd) + " exited " + o.rc() + ": " + o.stderr() + o.stdout());
        }
        return o.stdout();
    }

    static void create(Path p, String opts, String size) {
        if (opts == null || opts.isEmpty()) {
            ok("qemu-img", "create", "-q", "-f", "qcow2", p.toString(), size);
        } else {
            ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, p.toString(), size);
        }
    }

    /** qemu-io commands ({@code write -P 0x5a 0 4k}, ...) on a qcow2 image. */
    static void io(Path p, String... cmds) {
        List<String> c = new ArrayList<>(List.of("qemu-io", "-f", "qcow2"));
        for (String x : cmds) {
            c.add("-c");
            c.add(x);
        }
        c.add(p.toString());
        String out = ok(c.toArray(String[]::new));
        if (out.contains("failed") || out.contains("error")) {
            fail("qemu-io " + String.join("; ", cmds) + ": " + out);
        }
    }

    /** The image's content as a raw file (the truth for reads). */
    static Path toRaw(Path img, Path raw) {
        ok("qemu-img", "convert", "-O", "raw", img.toString(), raw.toString());
        return raw;
    }
}

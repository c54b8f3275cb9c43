package dev.jvmm.virtio.net;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.tun.TapDevice;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A network namespace created for one test ({@code jvmm-test-<pid>-<n>}) with a real TAP inside it, created by
 * a thread that setns(2)s into the namespace first. {@link #close()} deletes the namespace (and so the TAP).
 */
final class NetnsTap implements AutoCloseable {
    private static final int CLONE_NEWNET = 0x40000000;
    private static int counter;
    final String ns;

    NetnsTap() throws Exception {
        ns = "jvmm-test-" + ProcessHandle.current().pid() + "-" + (++counter);
        sh("ip", "netns", "add", ns);
    }

    static boolean possible() {
        return "root".equals(System.getProperty("user.name")) && new java.io.File("/dev/net/tun").exists();
    }

    TapDevice open(String name, int queues) throws Exception {
        return inside(() -> TapDevice.open(name, queues, true));
    }

    /** Runs {@code what} on a thread that has joined the namespace (sockets it opens live there). */
    <T> T inside(java.util.function.Supplier<T> what) throws Exception {
        AtomicReference<Object> out = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try (Fd nsFd = Fd.open("/run/netns/" + ns, Native.O_RDONLY)) {
                if (Native.LIBC.setns(nsFd.fd(), CLONE_NEWNET) != 0) {
                    throw new ErrnoException("setns", Native.errno(), ns);
                }
                out.set(what.get());
            } catch (RuntimeException e) {
                out.set(e);
            }
        }, "netns-" + ns);
        t.start();
        t.join();
        if (out.get() instanceof RuntimeException e) {
            throw e;
        }
        @SuppressWarnings("unchecked")
        T r = (T) out.get();
        return r;
    }

    /** Runs {@code cmd} inside the namespace and returns its output; fails on a non-zero exit. */
    String exec(String... cmd) throws Exception {
        List<String> c = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        c.addAll(List.of(cmd));
        return sh(c.toArray(String[]::new));
    }

    Process start(String... cmd) throws IOException {
        List<String> c = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        c.addAll(List.of(cmd));
        return new ProcessBuilder(c).redirectErrorStream(true).start();
    }

    static String sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    @Override
    public void close() throws Exception {
        new ProcessBuilder("ip", "netns", "del", ns).redirectErrorStream(true).start().waitFor();
    }
}

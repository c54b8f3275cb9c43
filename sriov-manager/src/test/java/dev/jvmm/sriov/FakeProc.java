package dev.jvmm.sriov;

import dev.jvmm.sys.pci.FakePciHost;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A fake {@code /proc} with the parts VF pools read: {@code PID/stat} (state, start time and comm of a process),
 * {@code PID/comm} and
 * {@code PID/fd/N} links (who holds {@code /dev/vfio/N} open). This JVM's own pid is in it from the start, so that
 * leases taken in a test are live until the test says otherwise. Public (in the test jar) for vmm's CLI tests.
 */
public final class FakeProc {
    /** This JVM's start time in the fake. */
    public static final long SELF_START = 1000;
    public final Path root;
    private int nextFd = 10;

    public FakeProc(Path root) {
        this.root = FakePciHost.mkdirs(root);
        process(self(), "java", SELF_START);
    }

    public static long self() {
        return ProcessHandle.current().pid();
    }

    /** A running process: {@code PID/stat} as the kernel writes it (fields after comm: state, ..., starttime, ...). */
    public FakeProc process(long pid, String comm, long starttime) {
        return stat(pid, comm, 'S', starttime);
    }

    /** The process has exited but its parent has not reaped it. */
    public FakeProc zombie(long pid, String comm, long starttime) {
        return stat(pid, comm, 'Z', starttime);
    }

    private FakeProc stat(long pid, String comm, char state, long starttime) {
        StringBuilder b = new StringBuilder().append(pid).append(" (").append(comm).append(") ").append(state);
        for (int f = 4; f <= 21; f++) {
            b.append(" ").append(f == 4 ? 1 : 0); // ppid 1, the rest 0
        }
        b.append(' ').append(starttime).append(" 12345678 300 18446744073709551615\n");
        Path d = FakePciHost.mkdirs(dir(pid));
        FakePciHost.put(d.resolve("stat"), b.toString().trim());
        FakePciHost.put(d.resolve("comm"), comm);
        return this;
    }

    /** The process is gone: its directory too. */
    public FakeProc exit(long pid) {
        try (Stream<Path> s = Files.walk(dir(pid))) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    /** The process holds {@code node} ({@code /dev/vfio/21}) open: a {@code PID/fd/N} link to it. */
    public FakeProc holds(long pid, String node) {
        Path fd = FakePciHost.mkdirs(dir(pid).resolve("fd")).resolve(Integer.toString(nextFd++));
        try {
            Files.createSymbolicLink(fd, Path.of(node));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }

    private Path dir(long pid) {
        return root.resolve(Long.toString(pid));
    }
}

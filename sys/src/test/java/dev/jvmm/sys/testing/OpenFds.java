package dev.jvmm.sys.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The open file descriptors of this process, for leak checks: {@link #now()} before, {@link #leaked} after. A leak is
 * a descriptor open after that was not open before, those the JVM opens by itself to load a class from a jar, a
 * native library or its module image left out. Counting them instead was flaky: the JVM keeps such a file open once
 * it has loaded a class from it, and a cleaner may close a descriptor an earlier test dropped, in the middle of a
 * test (seen in CI). The container's cgroup files are left out too: the JVM reads its memory limits and usage through
 * them (e.g. {@code memory.stat}) at moments of its own choosing (seen twice on a 2-core development VM).
 */
public final class OpenFds {
    private OpenFds() {
    }

    /** The open descriptors: number → what it points at. */
    public static Map<Integer, String> now() {
        List<Path> fds;
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            fds = s.toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<Integer, String> open = new TreeMap<>();
        for (Path fd : fds) {
            try {
                open.put(Integer.parseInt(fd.getFileName().toString()), Files.readSymbolicLink(fd).toString());
            } catch (IOException e) {
                // closed since the listing (the listing's own descriptor among them)
            }
        }
        return open;
    }

    /**
     * The descriptors open now that were not in {@code before} ("N -> target"), class and library files and cgroup
     * files left out.
     */
    public static List<String> leaked(Map<Integer, String> before) {
        List<String> leaked = new ArrayList<>();
        for (Map.Entry<Integer, String> e : now().entrySet()) {
            String target = e.getValue();
            if (target.equals(before.get(e.getKey())) || target.endsWith(".jar") || target.endsWith(".so")
                    || target.contains(".so.") || target.endsWith("/lib/modules") || target.startsWith("/sys/fs/cgroup/")) {
                continue;
            }
            leaked.add(e.getKey() + " -> " + target);
        }
        return leaked;
    }
}

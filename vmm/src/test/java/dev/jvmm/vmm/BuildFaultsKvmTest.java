package dev.jvmm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Faults;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.testing.KvmTest;
import dev.jvmm.sys.testing.OpenFds;
import dev.jvmm.virtio.blk.CacheMode;
import dev.jvmm.vmm.config.ConsoleSpec;
import dev.jvmm.vmm.config.DiskConfig;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.VmConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 17's host-side fault injection: a build of a small VM (64 MiB, 1 vCPU, a tiny kernel, a virtio-blk disk on
 * a temp image and, as root, a virtio-net on a TAP in a network namespace of its own) with its Nth libc call failing
 * ({@link Faults}), for every N until a build makes fewer than N calls. Each failed build must throw a jvmm exception
 * (a {@code dev.jvmm} class, not an NPE or the like) whose own message names the injected errno, and leave no fd, no
 * mapping of guest RAM or of a KVM/disk file, no thread and no file or TAP behind, compared with a baseline taken
 * before the loop. A failure the build tolerates (MADV_HUGEPAGE, BLKGETSIZE64 on a file, setting the TAP up,
 * vhost-net, KVM_SET_MSRS retried one by one) yields a VM that must close as cleanly; so must the build that
 * completes, after the checks are shown to see its fds, guest RAM, kvm_run and TAP. Prints the injection points.
 * {@code -Djvmm.faults.nonet=true} leaves the NIC out.
 */
@KvmTest
class BuildFaultsKvmTest {
    private static final long RAM = 64L << 20;
    private static final int CLONE_NEWNET = 0x40000000;

    @TempDir
    Path tmp;

    @Test
    void everyInjectedSyscallFailureUnwindsTheBuildCompletely() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Faults.ON, "fault injection is off (-Djvmm.faults=false)");
        Path kernel = FakeKernel.write(tmp, "hello.bzImage", FakeKernel.HELLO_POWEROFF);
        Path image = tmp.resolve("disk.img");
        try (var raf = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(1 << 20);
        }
        boolean withNet = "root".equals(System.getProperty("user.name")) && Files.exists(Path.of("/dev/net/tun"))
                && !Boolean.getBoolean("jvmm.faults.nonet");
        String ns = "jvmm-faults-" + ProcessHandle.current().pid();
        if (withNet) {
            withNet = sh("ip", "netns", "add", ns) == 0;
        }
        try {
            List<NetConfig> nets = withNet ? List.of(new NetConfig("jvmmf0", null, 1)) : List.of();
            VmConfig cfg = new VmConfig(kernel, null, "Z", RAM, 1,
                    new ConsoleSpec(ConsoleSpec.Kind.FILE, tmp.resolve("console.txt")), VmConfig.OnReboot.EXIT)
                    .withDevices(List.of(new DiskConfig(image, false, CacheMode.WRITEBACK, "d0", 1)), nets);
            String netns = withNet ? ns : null;
            AtomicReference<Throwable> failure = new AtomicReference<>();
            int[] points = {0};
            // the builds run on a thread of their own, in the namespace when there is one (the TAP is made there)
            Thread t = new Thread(() -> {
                try {
                    if (netns != null) {
                        try (Fd nsFd = Fd.open("/run/netns/" + netns, Native.O_RDONLY)) {
                            if (Native.LIBC.setns(nsFd.fd(), CLONE_NEWNET) != 0) {
                                throw new ErrnoException("setns", Native.errno(), netns);
                            }
                        }
                    }
                    points[0] = loop(cfg, netns);
                } catch (Throwable e) {
                    failure.set(e);
                }
            }, "build-faults");
            t.start();
            t.join();
            if (failure.get() != null) {
                throw new AssertionError(failure.get().getMessage(), failure.get());
            }
            System.out.printf("BuildFaultsKvmTest: %d injection points, each unwound (disk: yes, net: %s)%n",
                    points[0], withNet ? "tap in netns " + ns : "no (not root, no /dev/net/tun, or -Djvmm.faults.nonet=true)");
            assertTrue(points[0] > 20, "a build makes more than 20 counted calls: " + points[0]);
        } finally {
            if (withNet) {
                sh("ip", "netns", "del", ns);
            }
        }
    }

    /** Builds with call N failing for N = 1, 2, ... until a build completes; returns the number of points. */
    private int loop(VmConfig cfg, String netns) throws Exception {
        // a first build and close, unarmed, so that classes are loaded and lazy JVM state exists before the baseline
        buildAndClose(cfg);
        Snapshot before = Snapshot.take(tmp, netns);
        long started = System.nanoTime();
        List<String> problems = new ArrayList<>();
        List<String> tolerated = new ArrayList<>();
        List<String> points = new ArrayList<>();
        for (int n = 1; ; n++) {
            Vm vm = null;
            RuntimeException thrown = null;
            try (Console c = Console.open(cfg.console())) {
                Faults.arm(n);
                try {
                    vm = VmBuilder.build(cfg, c);
                } catch (RuntimeException e) {
                    thrown = e;
                } finally {
                    Faults.disarm();
                }
            }
            String call = Faults.failedCall();
            if (call != null) {
                points.add(n + ": " + call + (thrown == null ? " (tolerated)" : " -> " + firstLine(thrown)));
            }
            if (!Faults.reached()) {
                if (thrown != null) {
                    throw new AssertionError("build " + n + " failed without an injected failure", thrown);
                }
                // the checks see a built VM: its fds, its guest RAM and kvm_run mappings (so an unwind is not
                // judged by checks that would miss what it leaves)
                String built = before.compare(Snapshot.take(tmp, netns));
                vm.close();
                System.out.println("BuildFaultsKvmTest: a built VM holds " + built);
                assertTrue(built != null && built.contains("fds left open") && built.contains("kvm-vcpu")
                        && built.contains("mappings left") && built.contains("00:00 0 ")
                        && (netns == null || built.contains("jvmmf0")),
                        "the leak checks see the built VM (fds, guest RAM, kvm_run, the TAP): " + built);
                before.assertSame(Snapshot.take(tmp, netns), "after the complete build (" + Faults.calls()
                        + " calls) was closed");
                System.out.printf("BuildFaultsKvmTest: %d builds with a failing call in %d ms; %d of the failures"
                        + " the build tolerates: %s%n", n - 1, (System.nanoTime() - started) / 1_000_000,
                        tolerated.size(), tolerated);
                System.out.println("BuildFaultsKvmTest: the injection points:\n  " + String.join("\n  ", points));
                if (!problems.isEmpty()) {
                    fail(problems.size() + " problem(s) in " + (n - 1) + " builds with a failing call:\n"
                            + String.join("\n", problems));
                }
                return n - 1;
            }
            if (thrown == null) {
                // a best-effort call (MADV_HUGEPAGE, say): the VM is built without it and must close as any other
                tolerated.add(call);
                vm.close();
                String leak = before.compare(Snapshot.take(tmp, netns));
                if (leak != null) {
                    problems.add("build " + n + " completed without " + call + ", then was closed: " + leak);
                    before = Snapshot.take(tmp, netns);
                }
                continue;
            }
            if (!thrown.getClass().getName().startsWith("dev.jvmm.")) { // VmmException, ErrnoException, ...
                throw new AssertionError("build " + n + ": " + call + " failed and the build threw a "
                        + thrown.getClass().getName() + ", not a jvmm exception", thrown);
            }
            String errno = call.substring(call.lastIndexOf("-> ") + 3);
            if (!String.valueOf(thrown.getMessage()).contains(errno)) {
                problems.add("build " + n + ": " + call + " failed, but the message does not name " + errno + ": "
                        + thrown);
            }
            Snapshot after = Snapshot.take(tmp, netns);
            String leak = before.compare(after);
            if (leak != null) {
                // each leak is reported once: the next builds are compared with what this one left
                problems.add("build " + n + " failed at " + call + " with " + thrown + ": " + leak);
                before = after;
            }
        }
    }

    private static void buildAndClose(VmConfig cfg) {
        try (Console c = Console.open(cfg.console()); Vm vm = VmBuilder.build(cfg, c)) {
            assertEquals(1, vm.vcpuCount());
        }
    }

    private static String firstLine(Throwable t) {
        String m = t.toString();
        return m.length() > 160 ? m.substring(0, 160) + "..." : m;
    }

    /** What a build may leave behind: fds, mappings, threads, files in the test's directory, links in its netns. */
    private record Snapshot(Map<Integer, String> fds, List<String> maps, Set<String> threads, Set<String> files,
            String links) {
        static Snapshot take(Path dir, String netns) throws Exception {
            return new Snapshot(OpenFds.now(), mapsNow(), threadsNow(), files(dir), netns == null ? ""
                    : links(netns));
        }

        /** Mappings of a KVM fd or of a file, and anonymous ones the size of guest RAM (libraries and jars left out). */
        private static List<String> mapsNow() throws Exception {
            List<String> out = new ArrayList<>();
            for (String l : Files.readAllLines(Path.of("/proc/self/maps"))) {
                String[] f = l.trim().split("\\s+", 6);
                String path = f.length > 5 ? f[5] : "";
                String[] range = f[0].split("-");
                long size = Long.parseUnsignedLong(range[1], 16) - Long.parseUnsignedLong(range[0], 16);
                if (path.contains("kvm") || path.contains("disk.img") || path.startsWith("/tmp")
                        || (path.isEmpty() && size == RAM)) {
                    out.add(l);
                }
            }
            return out;
        }

        private static Set<String> threadsNow() {
            Set<String> names = new TreeSet<>();
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.isAlive()) {
                    names.add(t.getName() + "#" + t.getId());
                }
            }
            return names;
        }

        private static Set<String> files(Path dir) throws Exception {
            try (Stream<Path> s = Files.walk(dir)) {
                return s.map(p -> dir.relativize(p).toString()).collect(Collectors.toCollection(TreeSet::new));
            }
        }

        private static String links(String netns) throws Exception {
            Process p = new ProcessBuilder("ip", "-n", netns, "-o", "link", "show").redirectErrorStream(true).start();
            String out;
            try (var in = p.getInputStream(); var o = p.getOutputStream(); var e = p.getErrorStream()) {
                out = new String(in.readAllBytes());
            }
            p.waitFor();
            return out.lines().map(l -> l.replaceAll("^\\d+: ", "").replaceAll(":.*", ""))
                    .collect(Collectors.joining(","));
        }

        void assertSame(Snapshot after, String when) throws Exception {
            String leak = compare(after);
            if (leak != null) {
                fail(when + ": " + leak);
            }
        }

        /** What {@code after} has that this snapshot had not, or null. */
        String compare(Snapshot after) throws Exception {
            List<String> problems = new ArrayList<>();
        List<String> tolerated = new ArrayList<>();
        List<String> points = new ArrayList<>();
            List<String> fdLeaks = OpenFds.leaked(fds);
            if (!fdLeaks.isEmpty()) {
                problems.add("fds left open: " + fdLeaks);
            }
            List<String> newMaps = new ArrayList<>(after.maps);
            newMaps.removeAll(maps);
            if (!newMaps.isEmpty()) {
                problems.add("mappings left: " + newMaps);
            }
            Set<String> newThreads = new TreeSet<>(after.threads);
            newThreads.removeAll(threads);
            // a thread being stopped may still be alive for a moment
            for (int i = 0; i < 50 && !newThreads.isEmpty(); i++) {
                Thread.sleep(20);
                newThreads.retainAll(threadsNow());
            }
            if (!newThreads.isEmpty()) {
                problems.add("threads left: " + newThreads);
            }
            if (!after.files.equals(files)) {
                problems.add("files: " + files + " before, " + after.files + " after");
            }
            if (!after.links.equals(links)) {
                problems.add("links in the netns: " + links + " before, " + after.links + " after");
            }
            return problems.isEmpty() ? null : String.join("; ", problems);
        }
    }

    private static int sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (var in = p.getInputStream(); var o = p.getOutputStream(); var e = p.getErrorStream()) {
            in.readAllBytes();
        }
        return p.waitFor();
    }
}

package dev.jvmm.lab;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A booted emulated host (L1) that runs commands. Boot once, run many commands (one after another), close.
 *
 * <pre>{@code
 * try (LabSession lab = LabSession.start(LabConfig.fromEnvironment())) {
 *     CommandResult r = lab.run("test -c /dev/kvm && uname -r", Duration.ofSeconds(60));
 *     List<CommandResult> batch = lab.runAll(List.of("ls /sys/kernel/iommu_groups", "java -version"), Duration.ofMinutes(2));
 *     CommandResult j = lab.runJava("dev.jvmm.hostprobe.Main", List.of("--json"), Duration.ofMinutes(2));
 * }
 * }</pre>
 *
 * <p>Commands run as root in L1 with {@code chroot} into the host's root (shared read-only over 9p), so the host's
 * {@code java}, {@code qemu-system-x86_64}, {@code ip} and the project's jars are at their usual absolute paths.
 * Writable: {@code /tmp}, {@code /run}, {@code /dev/shm} (tmpfs, empty at boot), and {@link #scratchDir()} (ext4,
 * O_DIRECT works). See docs/lab.md.
 *
 * <p>Channel: a per-run host directory is shared read-write over 9p (tag {@code jvmmrun}) and mounted at the same
 * path in L1. The host writes {@code cmd/N.sh}; L1's /init runs it and writes {@code out/N.out} (tailed live here)
 * and then {@code out/N.rc}. The serial console goes to {@code console.log} in the run directory.
 *
 * <p>Only the QEMU process this session started is ever stopped, by its own PID.
 */
public final class LabSession implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LabSession.class);
    private static final AtomicInteger RUN_SEQ = new AtomicInteger();
    /** How long L1 may take to kill a timed-out command and report. */
    private static final Duration KILL_GRACE = Duration.ofSeconds(30);

    private final LabConfig cfg;
    private final GuestKit.Kit kit;
    private final Path runDir;
    private final Path share;
    private final Timestamped clock;
    private final Process qemu;
    private final Thread consoleReader;
    private final Deque<String> consoleTail = new ArrayDeque<>();
    private final Thread shutdownHook;
    private Duration bootDuration;
    private int nextCommand;
    private boolean closed;

    private LabSession(LabConfig cfg, GuestKit.Kit kit, Path runDir, Timestamped clock, Process qemu,
                       Consumer<String> console) {
        this.cfg = cfg;
        this.kit = kit;
        this.runDir = runDir;
        this.share = runDir.resolve("share");
        this.clock = clock;
        this.qemu = qemu;
        this.shutdownHook = new Thread(this::kill, "jvmm-lab-stop-" + qemu.pid());
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        this.consoleReader = new Thread(() -> pumpConsole(console), "jvmm-lab-console-" + qemu.pid());
        consoleReader.setDaemon(true);
        consoleReader.start();
    }

    /** Builds the kit if needed, checks the host, boots L1 and waits until it takes commands. */
    public static LabSession start(LabConfig cfg) {
        return start(cfg, null, null);
    }

    /**
     * @param progress receives lab progress messages (kit build, boot), may be null
     * @param console  receives each L1 serial console line, timestamped and prefixed {@code L1| }, may be null
     */
    public static LabSession start(LabConfig cfg, Consumer<String> progress, Consumer<String> console) {
        Consumer<String> prog = progress != null ? progress : m -> log.info("{}", m);
        try {
            return startOnce(cfg, prog, console);
        } catch (LabException e) {
            // Under TCG on a loaded host, L1's kernel occasionally fails a boot-time timing check (for example
            // "timer doesn't work through Interrupt-remapped IO-APIC") and, with panic=-1 and -no-reboot, exits.
            // That is the emulator's slowness, not a lab fault: one fresh boot is tried before giving up.
            if (e.reason() != LabException.Reason.BOOT_FAILED && e.reason() != LabException.Reason.TIMEOUT) {
                throw e;
            }
            prog.accept("lab: L1 did not come up (" + e.getMessage().lines().findFirst().orElse("") + "); booting it once more");
            return startOnce(cfg, prog, console);
        }
    }

    private static LabSession startOnce(LabConfig cfg, Consumer<String> prog, Consumer<String> console) {
        GuestKit.Kit kit = GuestKit.ensure(cfg, prog);
        HostPrereqs.requireForL1(cfg);
        Path runDir = createRunDir(cfg);
        Path share = runDir.resolve("share");
        Path scratch = createScratch(cfg, runDir);
        try {
            Files.createDirectories(share.resolve("cmd"));
            Files.createDirectories(share.resolve("out"));
        } catch (IOException e) {
            throw new LabException(LabException.Reason.IO, "cannot prepare the run directory " + runDir, e);
        }
        List<String> cmd = new L1CommandLine().qemu(cfg.qemuBinary()).kernel(kit.kernel(), kit.initrdL1())
                .memoryMb(cfg.memoryMb()).runShare(share).scratchImage(scratch, cfg.scratchCache()).e1000eRom(OptionRom.write(runDir))
                .nvmeNamespace(sparseFile(share.resolve(NVME_NAMESPACE_FILE), NVME_NAMESPACE_BYTES))
                .env("JVMM_MODE", "batch").env("JVMM_RUN", share.toString())
                .env("JVMM_SCRATCH", cfg.scratchMountPoint().toString()).build();
        try {
            Files.writeString(runDir.resolve("qemu.cmdline"), ShellQuote.join(cmd) + "\n");
        } catch (IOException e) {
            throw new LabException(LabException.Reason.IO, "cannot write to " + runDir, e);
        }
        prog.accept("lab: booting L1 (" + kit.release() + ") in " + runDir);
        Timestamped clock = Timestamped.startingNow();
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        } catch (IOException e) {
            throw new LabException(LabException.Reason.MISSING_PREREQUISITE,
                    "cannot start " + cmd.get(0) + "; fix: " + LabSetup.qemuInstallCommand(), e);
        }
        LabSession s = new LabSession(cfg, kit, runDir, clock, p, console);
        try {
            s.awaitReady();
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        prog.accept(String.format("lab: L1 ready after %.1f s", s.bootDuration.toMillis() / 1000.0));
        return s;
    }

    /** The size of the NVMe subsystem's namespace 1 ({@link L1CommandLine#nvmeNamespace}). */
    public static final long NVME_NAMESPACE_BYTES = 64L << 20;
    static final String NVME_NAMESPACE_FILE = "nvme-ns1.img";

    /**
     * The image behind the NVMe subsystem's namespace 1, in the run share: the same path on the host and in L1, so
     * a test can check in L1 what a guest wrote through the namespace.
     */
    public Path nvmeNamespaceImage() {
        return runDir.resolve("share").resolve(NVME_NAMESPACE_FILE);
    }

    static Path sparseFile(Path p, long size) {
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        } catch (IOException e) {
            throw new LabException(LabException.Reason.IO, "cannot create " + p, e);
        }
        return p;
    }

    /**
     * A sparse ext4 image for L1's scratch disk, and its (empty) mount point on the host. The image is
     * {@code scratch.img} in the run directory, or, with {@link LabConfig#scratchImageDir()}, a file there named after
     * the run, which {@code scratch.img} links to (and {@link #deleteRunDir} removes with the run directory).
     */
    static Path createScratch(LabConfig cfg, Path runDir) {
        Path scratch = runDir.resolve("scratch.img");
        try {
            Files.createDirectories(cfg.scratchMountPoint());
            if (cfg.scratchImageDir() != null) {
                Path image = cfg.scratchImageDir().resolve("jvmm-lab-scratch-" + runDir.getFileName() + ".img");
                Files.createSymbolicLink(scratch, image);
                scratch = image;
            }
            try (RandomAccessFile f = new RandomAccessFile(scratch.toFile(), "rw")) {
                f.setLength((long) cfg.scratchGb() << 30);
            }
        } catch (IOException e) {
            throw new LabException(LabException.Reason.IO, "cannot create the scratch disk " + scratch + " ("
                    + dev.jvmm.sys.FileErrors.reason(e) + ")", e);
        }
        Proc.check(LabException.Reason.IO, List.of("mkfs.ext4", "-q", "-F", "-L", "jvmm-scratch",
                "-E", "lazy_itable_init=1,lazy_journal_init=1", scratch.toString()), null, Duration.ofMinutes(2));
        return scratch;
    }

    static Path createRunDir(LabConfig cfg) {
        removeStaleRunDirs(cfg);
        String name = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-"
                + ProcessHandle.current().pid() + "-" + RUN_SEQ.incrementAndGet();
        Path d = cfg.runRoot().resolve(name);
        requireOwnDir(cfg.userDir());
        try {
            Files.createDirectories(d);
        } catch (IOException e) {
            throw new LabException(LabException.Reason.IO, "cannot create the run directory " + d + " ("
                    + dev.jvmm.sys.FileErrors.reason(e) + "); set JVMM_LAB_DIR to a directory of yours", e);
        }
        return d;
    }

    /**
     * This user's lab directory: created private (mode 0700) when missing; when it exists it must belong to this
     * user (a directory under the world-writable /var/tmp that someone else made is refused, not used).
     */
    static void requireOwnDir(Path dir) {
        try {
            if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectories(dir.getParent());
                try {
                    Files.createDirectory(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                            java.nio.file.attribute.PosixFilePermissions.fromString(
                                    LabSetup.isRoot() ? "rwxr-xr-x" : "rwx------")));
                } catch (java.nio.file.FileAlreadyExistsException raced) {
                    // another lab process of this user made it a moment ago: checked below
                }
            }
            String owner = Files.getOwner(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS).getName();
            String me = System.getProperty("user.name");
            if (!owner.equals(me) && !LabSetup.isRoot()) {
                throw new LabException(LabException.Reason.IO, "the lab directory " + dir + " belongs to " + owner
                        + ", not to " + me + "; remove it, or set JVMM_LAB_DIR to a directory of yours");
            }
        } catch (IOException e) {
            throw new LabException(LabException.Reason.IO, "cannot create the lab directory " + dir + " ("
                    + dev.jvmm.sys.FileErrors.reason(e) + "); set JVMM_LAB_DIR to a directory of yours", e);
        }
    }

    /** Run directories of lab processes that no longer exist (killed hard, so close() never ran). */
    private static void removeStaleRunDirs(LabConfig cfg) {
        if (!Files.isDirectory(cfg.runRoot())) {
            return;
        }
        try (var s = Files.list(cfg.runRoot())) {
            for (Path d : s.toList()) {
                String[] w = d.getFileName().toString().split("-");
                if (w.length == 4 && w[2].matches("\\d+")
                        && !ProcessHandle.of(Long.parseLong(w[2])).map(ProcessHandle::isAlive).orElse(false)) {
                    deleteRunDir(d);
                }
            }
        } catch (IOException e) {
            log.debug("cannot tidy {}: {}", cfg.runRoot(), e.toString());
        }
    }

    /** Removes a run directory, and the scratch image it links to when that lives elsewhere. */
    static void deleteRunDir(Path runDir) {
        Path link = runDir.resolve("scratch.img");
        if (Files.isSymbolicLink(link)) {
            try {
                Files.deleteIfExists(Files.readSymbolicLink(link));
            } catch (IOException e) {
                log.warn("cannot remove the scratch image {} links to: {}", link, e.toString());
            }
        }
        Initramfs.deleteTree(runDir);
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + cfg.bootTimeout().toNanos();
        Path ready = share.resolve("ready");
        while (!Files.exists(ready)) {
            if (!qemu.isAlive()) {
                joinConsole();
                throw new LabException(LabException.Reason.BOOT_FAILED, "L1 QEMU exited with " + qemu.exitValue()
                        + " before it was ready; console (" + runDir.resolve("console.log") + "):\n" + consoleTail());
            }
            if (System.nanoTime() > deadline) {
                throw new LabException(LabException.Reason.TIMEOUT, "L1 did not come up within "
                        + cfg.bootTimeout().toSeconds() + " s (raise JVMM_LAB_BOOT_TIMEOUT_S on a busy machine);"
                        + " console:\n" + consoleTail());
            }
            sleep(100);
        }
        bootDuration = Duration.ofNanos((long) (clock.elapsedSeconds() * 1e9));
    }

    /** Runs one shell command in L1 and waits for it (killed after {@code timeout}). */
    public CommandResult run(String shellCommand, Duration timeout) {
        return run(LabCommand.of(shellCommand).timeout(timeout));
    }

    /** Runs one shell command, giving each output line to {@code lines} as it arrives. */
    public CommandResult run(String shellCommand, Duration timeout, Consumer<String> lines) {
        return run(LabCommand.of(shellCommand).timeout(timeout).lines(lines));
    }

    /** Runs the commands one after another in this L1 and collects all results (a failing command does not stop the batch). */
    public List<CommandResult> runAll(List<String> shellCommands, Duration eachTimeout) {
        List<CommandResult> out = new ArrayList<>();
        for (String c : shellCommands) {
            out.add(run(c, eachTimeout));
        }
        return out;
    }

    /**
     * Runs a Java main class in L1 with this JVM's {@code java} and class path (paths are the same in L1), e.g. a
     * helper main in a module's test classes.
     */
    public CommandResult runJava(String mainClass, List<String> args, Duration timeout) {
        return run(LabCommand.of("exec " + javaCommand(mainClass, args)).timeout(timeout));
    }

    /**
     * The shell command (quoted words) that runs a Java main class in L1 with this JVM's {@code java} and class path,
     * for a command line of one's own: a JVM started in the background ({@code ... > log 2>&1 &}) keeps running after
     * its {@link #run} returned.
     */
    public static String javaCommand(String mainClass, List<String> args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> words = new ArrayList<>(List.of(java, "-cp", Classpath.current(), mainClass));
        words.addAll(args);
        return ShellQuote.join(words);
    }

    /** Runs a command described by {@code c}. Commands are run one at a time, in call order. */
    public synchronized CommandResult run(LabCommand c) {
        ensureOpen();
        int n = nextCommand++;
        long t0 = System.nanoTime();
        Path script = share.resolve("cmd/" + n + ".sh");
        try {
            Path tmp = share.resolve("cmd/" + n + ".sh.tmp");
            Files.writeString(tmp, script(c));
            Files.move(tmp, script, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new LabException(LabException.Reason.IO, "cannot write " + script, e);
        }
        Path out = share.resolve("out/" + n + ".out");
        Path rc = share.resolve("out/" + n + ".rc");
        StringBuilder output = new StringBuilder();
        LineSplitter splitter = new LineSplitter(c.lines());
        long pos = 0;
        long deadline = t0 + c.timeout().toNanos();
        boolean timedOut = false;
        while (true) {
            boolean done = Files.exists(rc);
            pos = drain(out, pos, output, splitter);
            if (done) {
                break;
            }
            if (!qemu.isAlive()) {
                joinConsole();
                throw new LabException(LabException.Reason.L1_DIED, "L1 QEMU exited (" + qemu.exitValue()
                        + ") while running: " + c.shell() + "\noutput so far:\n" + output + "\nconsole:\n" + consoleTail());
            }
            long now = System.nanoTime();
            if (!timedOut && now > deadline) {
                timedOut = true;
                log.warn("lab command {} timed out after {} s, killing it: {}", n, c.timeout().toSeconds(), c.shell());
                touch(share.resolve("cmd/" + n + ".kill"));
                deadline = now + KILL_GRACE.toNanos();
            } else if (timedOut && now > deadline) {
                kill();
                throw new LabException(LabException.Reason.TIMEOUT, "command timed out and L1 did not stop it: "
                        + c.shell() + "; L1 was stopped");
            }
            sleep(50);
        }
        splitter.finish();
        int code = readExitCode(rc);
        return new CommandResult(c.shell(), code, output.toString(), Duration.ofNanos(System.nanoTime() - t0), timedOut);
    }

    private String script(LabCommand c) {
        Map<String, String> env = new LinkedHashMap<>(commandEnvironment());
        env.putAll(c.env());
        StringBuilder sb = new StringBuilder("# jvmm lab command\n");
        env.forEach((k, v) -> sb.append("export ").append(k).append('=').append(ShellQuote.quote(v)).append('\n'));
        Path wd = c.workDir() != null ? c.workDir() : Path.of("/");
        sb.append("cd ").append(ShellQuote.quote(wd.toString())).append(" 2>/dev/null || cd /\n");
        sb.append(c.shell()).append('\n');
        return sb.toString();
    }

    /** Environment every command gets (plus its own). */
    public Map<String, String> commandEnvironment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        env.put("HOME", "/root");
        env.put("LANG", "C.UTF-8");
        env.put("JAVA_HOME", System.getProperty("java.home"));
        env.put("JVMM_LAB", "1");
        env.put("JVMM_NO_BUILD", "1");
        env.put("JVMM_LAB_DIR", cfg.labDir().toString());
        env.put("JVMM_LAB_SCRATCH", scratchDir().toString());
        env.put("JVMM_LAB_KIT", kit.dir().toString());
        env.put("JVMM_LAB_KERNEL", kit.kernel().toString());
        env.put("JVMM_LAB_INITRD", kit.initrdGuest().toString());
        return env;
    }

    /**
     * The exit status L1 wrote to {@code rc}. L1 writes it atomically (rename), but a 9p view can still show the new
     * name before its content for a moment, so an empty or partial file is read again for up to 5 s.
     */
    static int readExitCode(Path rc) {
        RuntimeException last = null;
        for (int i = 0; i < 100; i++) {
            try {
                String s = Files.readString(rc).strip();
                if (!s.isEmpty()) {
                    return Integer.parseInt(s);
                }
                last = new LabException(LabException.Reason.IO, "empty exit code file " + rc);
            } catch (IOException e) {
                last = new LabException(LabException.Reason.IO, "unreadable exit code file " + rc, e);
            } catch (NumberFormatException e) {
                last = new LabException(LabException.Reason.IO, "exit code file " + rc + " holds no number", e);
            }
            sleep(50);
        }
        throw last;
    }

    private static long drain(Path out, long pos, StringBuilder output, LineSplitter splitter) {
        if (!Files.exists(out)) {
            return pos;
        }
        try (var ch = java.nio.channels.FileChannel.open(out)) {
            long size = ch.size();
            if (size <= pos) {
                return pos;
            }
            var buf = java.nio.ByteBuffer.allocate((int) Math.min(size - pos, 1 << 20));
            int n = ch.read(buf, pos);
            if (n <= 0) {
                return pos;
            }
            splitter.accept(buf.array(), n, output);
            return pos + n;
        } catch (IOException e) {
            return pos;
        }
    }

    private void pumpConsole(Consumer<String> console) {
        try (InputStream in = qemu.getInputStream();
             OutputStream logFile = Files.newOutputStream(runDir.resolve("console.log"))) {
            java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
            int b;
            while ((b = in.read()) >= 0) {
                logFile.write(b);
                if (b == '\n') {
                    logFile.flush();
                    String s = line.toString(StandardCharsets.UTF_8).replace("\r", "");
                    line.reset();
                    synchronized (consoleTail) {
                        consoleTail.addLast(s);
                        if (consoleTail.size() > 60) {
                            consoleTail.removeFirst();
                        }
                    }
                    if (console != null) {
                        console.accept(clock.format("L1| " + s));
                    }
                } else {
                    line.write(b);
                }
            }
        } catch (IOException e) {
            // QEMU went away; the exit code tells the rest
        }
    }

    private void joinConsole() {
        try {
            consoleReader.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The last lines of L1's serial console. */
    public String consoleTail() {
        synchronized (consoleTail) {
            return String.join("\n", consoleTail);
        }
    }

    public GuestKit.Kit kit() {
        return kit;
    }

    /** Seconds since this session's QEMU was launched, for timestamps. */
    public Timestamped clock() {
        return clock;
    }

    /** From QEMU launch to "ready" (L1 booted, 9p mounted, command loop running). */
    public Duration bootDuration() {
        return bootDuration;
    }

    /** This run's directory on the host (console.log, qemu.cmdline, share/). */
    public Path runDir() {
        return runDir;
    }

    /** Where the scratch ext4 disk is mounted inside L1 (writable, O_DIRECT works). */
    public Path scratchDir() {
        return cfg.scratchMountPoint();
    }

    /** The PID of this session's QEMU. */
    public long qemuPid() {
        return qemu.pid();
    }

    public boolean isAlive() {
        return !closed && qemu.isAlive();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("lab session is closed");
        }
    }

    /** Asks L1 to power off, then stops this session's QEMU by PID if it does not; removes the run directory. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (qemu.isAlive()) {
            touch(share.resolve("cmd/quit"));
            try {
                if (!qemu.waitFor(30, TimeUnit.SECONDS)) {
                    kill();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                kill();
            }
        }
        joinConsole();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException ignored) {
            // the JVM is shutting down; the hook runs anyway
        }
        if (!"1".equals(System.getenv("JVMM_LAB_KEEP_RUNS"))) {
            deleteRunDir(runDir);
        }
    }

    /** Stops this session's QEMU (and nothing else): SIGTERM to its PID, SIGKILL after 10 s. */
    private void kill() {
        if (!qemu.isAlive()) {
            return;
        }
        qemu.destroy();
        try {
            if (!qemu.waitFor(10, TimeUnit.SECONDS)) {
                qemu.destroyForcibly();
                qemu.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            qemu.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static void touch(Path p) {
        try {
            Files.writeString(p, "");
        } catch (IOException e) {
            log.warn("cannot write {}: {}", p, e.toString());
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LabException(LabException.Reason.TIMEOUT, "interrupted", e);
        }
    }
}

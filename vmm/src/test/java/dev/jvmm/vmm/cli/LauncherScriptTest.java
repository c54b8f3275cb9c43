package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./jvmm} launcher's choice of JDK and of its start-up archive (docs/performance.md, "Start-up"), run by
 * bash on a copy of the script with fake JDKs: each fake {@code java} logs its home and arguments, and makes the file
 * an {@code -XX:AOTCacheOutput=} or {@code -XX:ArchiveClassesAtExit=} names. {@code JVMM_JVM_DIR} stands for
 * /usr/lib/jvm; the PATH holds only the tools the launcher uses and the test's own {@code java}, if any.
 */
class LauncherScriptTest {
    private static final String FAKE_JAVA = """
            #!/bin/bash
            home=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
            { printf '%s' "${home##*/}"; printf ' %s' "$@"; echo; } >>"$FAKE_LOG"
            for a in "$@"; do
              case $a in -XX:AOTCacheOutput=*|-XX:ArchiveClassesAtExit=*) echo cache >"${a#*=}" ;; esac
            done
            exit 0
            """;

    @TempDir
    Path tmp;
    Path root;
    Path jvmDir;
    Path pathDir;
    Path log;
    Path target;

    @BeforeEach
    void setUp() throws IOException {
        Path script = Path.of("").toAbsolutePath().getParent().resolve("jvmm");
        assertTrue(Files.isRegularFile(script), "the launcher at " + script);
        root = Files.createDirectories(tmp.resolve("tree"));
        Files.copy(script, root.resolve("jvmm"));
        target = Files.createDirectories(root.resolve("vmm/target/lib"));
        target = target.getParent();
        Files.writeString(target.resolve("jvmm.jar"), "jar");
        Files.writeString(target.resolve("lib/b.jar"), "b");
        Files.writeString(target.resolve("lib/a.jar"), "a");
        jvmDir = Files.createDirectories(tmp.resolve("jvm"));
        pathDir = Files.createDirectories(tmp.resolve("bin"));
        for (String tool : new String[] {"readlink", "dirname", "rm", "mv"}) {
            for (String dir : new String[] {"/usr/bin", "/bin"}) {
                if (Files.isExecutable(Path.of(dir, tool))) { // a wrapper: JUnit warns of links out of its dir
                    Path w = pathDir.resolve(tool);
                    Files.writeString(w, "#!/bin/sh\nexec " + dir + "/" + tool + " \"$@\"\n");
                    Files.setPosixFilePermissions(w, PosixFilePermissions.fromString("rwxr-xr-x"));
                    break;
                }
            }
        }
        log = tmp.resolve("java.log");
    }

    /** A fake JDK {@code name} of {@code version} (its release file's JAVA_VERSION) in {@code dir}. */
    private Path jdk(Path dir, String name, String version) throws IOException {
        Path home = Files.createDirectories(dir.resolve(name).resolve("bin")).getParent();
        Files.writeString(home.resolve("release"), "IMPLEMENTOR=\"Test\"\nJAVA_VERSION=\"" + version + "\"\nOS_NAME=\"Linux\"\n");
        Path java = home.resolve("bin/java");
        Files.writeString(java, FAKE_JAVA);
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        return home;
    }

    /** The launcher's run: exit status, stderr, and the java invocations, one line each (JDK name, arguments). */
    private record Run(int status, String stderr, List<String> javas) {
        String last() {
            return javas.get(javas.size() - 1);
        }
    }

    private Run run(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("/bin/bash", root.resolve("jvmm").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile());
        Map<String, String> e = pb.environment();
        e.clear();
        e.put("PATH", pathDir.toString());
        e.put("JVMM_NO_BUILD", "1");
        e.put("JVMM_JVM_DIR", jvmDir.toString());
        e.put("FAKE_LOG", log.toString());
        e.putAll(env);
        Files.deleteIfExists(log);
        Path err = tmp.resolve("stderr");
        pb.redirectError(err.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the launcher ran away");
        List<String> javas = Files.exists(log) ? Files.readAllLines(log) : List.of();
        return new Run(p.exitValue(), Files.readString(err, StandardCharsets.UTF_8), javas);
    }

    private Run run(String... args) throws IOException, InterruptedException {
        return run(Map.of(), args);
    }

    @Test
    void picksTheNewestJdkOf25OrLaterUnderUsrLibJvm() throws Exception {
        jdk(jvmDir, "jdk-17", "17.0.15");
        jdk(jvmDir, "a-25.0.3", "25.0.3"); // seen first
        jdk(jvmDir, "b-25.0.10", "25.0.10"); // newer, though "25.0.10" sorts before "25.0.3"
        jdk(jvmDir, "jdk-21", "21.0.7");
        Run r = run("--version");
        assertEquals(0, r.status());
        assertEquals("", r.stderr(), "the launcher prints nothing unless JVMM_TRACE_STARTUP is set");
        assertEquals(1, r.javas().size());
        assertTrue(r.last().startsWith("b-25.0.10 "), r.last());
        assertTrue(r.last().contains(" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow "),
                r.last());
        assertTrue(r.last().endsWith(" dev.jvmm.vmm.cli.Jvmm --version"), r.last());
        // the class path is spelt out, in a fixed order
        assertTrue(r.last().contains(" -cp " + target.resolve("jvmm.jar") + ":" + target.resolve("lib/a.jar") + ":"
                + target.resolve("lib/b.jar") + " "), r.last());

        jdk(jvmDir, "jdk-26", "26");
        assertTrue(run("--version").last().startsWith("jdk-26 "));
    }

    @Test
    void withoutAJdkOf25ItRunsThePathsJava() throws Exception {
        Path j17 = jdk(jvmDir, "jdk-17", "17.0.15");
        jdk(jvmDir, "jdk-21", "21.0.7");
        Files.createSymbolicLink(pathDir.resolve("java"), j17.resolve("bin/java"));
        Run r = run("--version");
        assertEquals(0, r.status());
        assertEquals("", r.stderr());
        assertTrue(r.last().startsWith("jdk-17 "), r.last());
        assertFalse(r.last().contains("--enable-native-access"), "17 takes no such options: " + r.last());
    }

    @Test
    void aJdkOf25OnThePathCountsToo() throws Exception {
        jdk(jvmDir, "jdk-25.0.3", "25.0.3");
        Path other = jdk(Files.createDirectories(tmp.resolve("opt")), "jdk-25.0.4", "25.0.4");
        Files.createSymbolicLink(pathDir.resolve("java"), other.resolve("bin/java"));
        assertTrue(run("--version").last().startsWith("jdk-25.0.4 "));
        Files.writeString(other.resolve("release"), "JAVA_VERSION=\"25.0.1\"\n"); // now older than /usr/lib/jvm's
        assertTrue(run("--version").last().startsWith("jdk-25.0.3 "));
    }

    @Test
    void javaAndJavaHomeWin() throws Exception {
        jdk(jvmDir, "jdk-25", "25.0.3");
        Path j17 = jdk(Files.createDirectories(tmp.resolve("opt")), "jdk-17", "17.0.15");
        Path j21 = jdk(tmp.resolve("opt"), "jdk-21", "21.0.7");
        assertTrue(run(Map.of("JAVA_HOME", j17.toString()), "--version").last().startsWith("jdk-17 "));
        assertTrue(run(Map.of("JAVA", j21.resolve("bin/java").toString()), "--version").last().startsWith("jdk-21 "));
        assertTrue(run(Map.of("JAVA", j21.resolve("bin/java").toString(), "JAVA_HOME", j17.toString()), "--version")
                .last().startsWith("jdk-21 "), "JAVA, the launcher's own variable, before JAVA_HOME");
        Map<String, String> missing = Map.of("JAVA_HOME", tmp.resolve("none").toString());
        assertTrue(run(missing, "--version").last().startsWith("jdk-25 "), "a JAVA_HOME without a java is passed over");
    }

    @Test
    void launchOn25UsesAnAotCacheMadeOncePerBuildAndJdk() throws Exception {
        jdk(jvmDir, "jdk-25", "25.0.3");
        Path cache = target.resolve("jvmm-launch-jdk-25.aot");
        Run r = run("launch", "--kernel", "k");
        assertEquals(0, r.status());
        assertEquals("", r.stderr());
        assertEquals(2, r.javas().size(), "training, then the launch: " + r.javas());
        assertTrue(r.javas().get(0).contains(" -XX:AOTCacheOutput=" + cache + ".tmp "), r.javas().get(0));
        assertTrue(r.javas().get(0).endsWith(" dev.jvmm.vmm.cli.LaunchTraining"), r.javas().get(0));
        assertTrue(Files.isRegularFile(cache));
        assertFalse(Files.exists(Path.of(cache + ".tmp")));
        assertTrue(r.last().contains(" -XX:AOTCache=" + cache + " "), r.last());
        assertTrue(r.last().contains(" -XX:TieredStopAtLevel=1 -XX:CompileThresholdScaling=10 -XX:+UseSerialGC "
                + "-XX:CompileCommand=quiet -XX:CompileCommand=CompileThresholdScaling,dev.jvmm.virtio.blk.qcow2.*::*,0.1 "),
                r.last());
        assertTrue(r.last().endsWith(" dev.jvmm.vmm.cli.LaunchCommand --kernel k"), r.last());

        assertEquals(1, run("launch", "--kernel", "k").javas().size(), "no training while the cache is current");
        Files.setLastModifiedTime(target.resolve("jvmm.jar"),
                FileTime.fromMillis(Files.getLastModifiedTime(cache).toMillis() + 10_000));
        assertEquals(2, run("launch", "--kernel", "k").javas().size(), "a new build trains again");

        Run off = run(Map.of("JVMM_CDS", "0"), "launch", "--kernel", "k");
        assertEquals(1, off.javas().size());
        assertFalse(off.last().contains("AOTCache"), off.last());
        Run opts = run(Map.of("JVMM_JAVA_OPTS", "-XX:TieredStopAtLevel=4  -Dx=y"), "launch", "--kernel", "k");
        assertTrue(opts.last().contains("::*,0.1 -XX:TieredStopAtLevel=4 -Dx=y -cp "), opts.last());
    }

    @Test
    void launchOn17UsesAnAppCdsArchivePerJdk() throws Exception {
        Path j17 = jdk(jvmDir, "jdk-17", "17.0.15");
        Files.createSymbolicLink(pathDir.resolve("java"), j17.resolve("bin/java"));
        Path jsa = target.resolve("jvmm-launch-jdk-17.jsa");
        Run r = run("launch", "--kernel", "k");
        assertEquals(2, r.javas().size(), r.javas().toString());
        assertTrue(r.javas().get(0).contains(" -XX:ArchiveClassesAtExit=" + jsa + ".tmp "), r.javas().get(0));
        assertTrue(r.last().contains(" -XX:SharedArchiveFile=" + jsa + " "), r.last());

        // another JDK of the same version is another archive; a JDK updated in place (its release file newer) too
        Path other = jdk(Files.createDirectories(tmp.resolve("opt")), "other-17", "17.0.15");
        Run o = run(Map.of("JAVA_HOME", other.toString()), "launch", "--kernel", "k");
        assertTrue(o.last().contains(" -XX:SharedArchiveFile=" + target.resolve("jvmm-launch-other-17.jsa") + " "));
        assertEquals(1, run("launch", "--kernel", "k").javas().size());
        Files.setLastModifiedTime(j17.resolve("release"),
                FileTime.fromMillis(Files.getLastModifiedTime(jsa).toMillis() + 10_000));
        assertEquals(2, run("launch", "--kernel", "k").javas().size());
    }

    @Test
    void traceNamesTheChoice() throws Exception {
        jdk(jvmDir, "jdk-25", "25.0.3");
        Map<String, String> env = new HashMap<>();
        env.put("JVMM_TRACE_STARTUP", "1");
        Run r = run(env, "launch", "--kernel", "k");
        assertTrue(r.stderr().contains("jvmm-startup: launcher: java " + jvmDir.resolve("jdk-25/bin/java")), r.stderr());
        assertTrue(r.stderr().contains("jvmm-startup: launcher: training " + target.resolve("jvmm-launch-jdk-25.aot")),
                r.stderr());
    }

    @Test
    void noJavaAnywhereStillExecsJava() throws Exception {
        Run r = run("--version");
        assertEquals(127, r.status(), "exec of a java that is not there: " + r.stderr());
        assertTrue(r.stderr().contains("java"), r.stderr());
    }
}

package dev.jvmm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.Classpath;
import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.LabCommand;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.ShellQuote;
import dev.jvmm.sys.testing.TierRunner;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Runs a tier of test classes inside the lab's L1, in one JVM ({@link TierRunner}): the classes of every module
 * whose compiled test class refers to a tier's annotation (found in the modules' test classes, so a new one is
 * never forgotten). Each test's result is printed as it comes; the run fails unless every class found ran at least
 * one test and every test succeeded. Used by {@link KvmTierLabTest} and {@link L1TierLabTest}.
 */
final class TierInL1 {
    private TierInL1() {
    }

    /**
     * @param descriptor how a class of the tier names its annotation in its constant pool ({@code Lpkg/Ann;})
     * @param tag        the JUnit tag of the tier's tests
     * @param label      the tier's name in the output
     * @param expected   a class the scan must find (proves the scan works)
     * @param env        environment of the JVM in L1
     */
    static void runAll(LabSession lab, byte[] descriptor, String tag, String label, String expected,
            Map<String, String> env) throws IOException {
        Path repo = Path.of(System.getProperty("jvmm.repo.root", "..")).toAbsolutePath().normalize();
        List<Path> roots = new ArrayList<>();
        TreeSet<String> classes = new TreeSet<>();
        try (Stream<Path> modules = Files.list(repo)) {
            for (Path m : modules.sorted().toList()) {
                Path tc = m.resolve("target/test-classes");
                if (Files.isDirectory(tc)) {
                    roots.add(tc);
                    classes.addAll(classesReferring(tc, descriptor));
                }
            }
        }
        assertTrue(classes.contains(expected), "the scan found no " + label + " classes: " + classes);
        String prefix = "[" + label + " in L1] ";
        System.out.println(prefix + classes.size() + " classes: " + classes);
        StringBuilder cp = new StringBuilder(Classpath.current());
        roots.forEach(r -> cp.append(File.pathSeparator).append(r));
        List<String> words = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                // the checks every test JVM runs with (the surefire argLine) hold in L1 too
                "-Djvmm.memguard=" + dev.jvmm.sys.MemoryGuard.ON, "-Djvmm.faults=" + dev.jvmm.sys.Faults.ON,
                "-cp", cp.toString(), TierRunner.class.getName(), tag));
        words.addAll(classes);
        LabCommand c = LabCommand.of("exec " + ShellQuote.join(words)).timeout(Duration.ofMinutes(10))
                .lines(l -> System.out.println(prefix + l));
        for (Map.Entry<String, String> e : env.entrySet()) {
            c = c.env(e.getKey(), e.getValue());
        }
        CommandResult r = lab.run(c);

        Map<String, Integer> passedPerClass = new TreeMap<>();
        Matcher m = Pattern.compile("(?m)^TIER-TEST (\\S+) ([\\w.$]+)#").matcher(r.output());
        List<String> notPassed = new ArrayList<>();
        while (m.find()) {
            if (m.group(1).equals("SUCCESSFUL")) {
                passedPerClass.merge(m.group(2), 1, Integer::sum);
            } else {
                notPassed.add(m.group(1) + " " + m.group(2));
            }
        }
        assertTrue(notPassed.isEmpty(), label + " tests did not pass in L1: " + notPassed);
        assertEquals(0, r.exitCode(), "the " + label + " in L1 exited " + r.exitCode() + ":\n" + r.output());
        assertEquals(classes, passedPerClass.keySet(), "every " + label + " class ran and passed in L1");
        assertFalse(r.output().contains("TIER-CONTAINER"), r.output());
    }

    /** Top-level classes under {@code root} whose class file refers to {@code descriptor}. */
    static List<String> classesReferring(Path root, byte[] descriptor) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path f : s.filter(p -> p.toString().endsWith("Test.class")).toList()) {
                if (indexOf(Files.readAllBytes(f), descriptor) >= 0) {
                    String rel = root.relativize(f).toString();
                    out.add(rel.substring(0, rel.length() - ".class".length()).replace('/', '.'));
                }
            }
        }
        return out;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}

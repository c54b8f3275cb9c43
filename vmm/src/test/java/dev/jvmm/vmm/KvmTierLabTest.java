package dev.jvmm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.Classpath;
import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.LabCommand;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.ShellQuote;
import dev.jvmm.lab.junit.LabTest;
import dev.jvmm.sys.testing.KvmTest;
import dev.jvmm.sys.testing.KvmTier;
import dev.jvmm.sys.testing.TierRunner;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The kvm tier, run inside the lab's L1 on a host whose own /dev/kvm cannot run it ({@link KvmTier}): every
 * {@code @KvmTest} class of every module (found in the modules' compiled test classes, so a new one is never
 * forgotten) runs in one JVM in the L1 this test JVM already shares with the other lab tests, on L1's nested KVM.
 * Each test's result is printed as it comes; the test fails unless every class found ran at least one test and
 * every test succeeded. On a host that runs the tier itself, {@code KvmTierFilter} leaves this test out.
 */
@LabTest
@Tag(KvmTier.TAG)
@Tag(KvmTier.IN_LAB_TAG)
class KvmTierLabTest {
    /**
     * How a {@code @KvmTest} class names its annotation in its constant pool. Built at run time: as a literal it
     * would stand in this class's own constant pool and make it look like a kvm-tier class.
     */
    private static final byte[] KVM_TEST_DESCRIPTOR = ("L" + KvmTest.class.getName().replace('.', '/') + ";")
            .getBytes(StandardCharsets.US_ASCII);

    @Test
    void everyKvmTierClassPassesInsideL1(LabSession lab) throws IOException {
        Path repo = Path.of(System.getProperty("jvmm.repo.root", "..")).toAbsolutePath().normalize();
        List<Path> roots = new ArrayList<>();
        TreeSet<String> classes = new TreeSet<>();
        try (Stream<Path> modules = Files.list(repo)) {
            for (Path m : modules.sorted().toList()) {
                Path tc = m.resolve("target/test-classes");
                if (Files.isDirectory(tc)) {
                    roots.add(tc);
                    classes.addAll(kvmTestClasses(tc));
                }
            }
        }
        assertTrue(classes.contains(VmKvmTest.class.getName()), "the scan found no kvm-tier classes: " + classes);
        System.out.println("[kvm tier in L1] " + classes.size() + " classes: " + classes);
        StringBuilder cp = new StringBuilder(Classpath.current());
        roots.forEach(r -> cp.append(File.pathSeparator).append(r));
        List<String> words = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", cp.toString(), TierRunner.class.getName(),
                KvmTier.TAG));
        words.addAll(classes);
        CommandResult r = lab.run(LabCommand.of("exec " + ShellQuote.join(words)).timeout(Duration.ofMinutes(10))
                .env("JVMM_KVM_TIER", "host").env("JVMM_REQUIRE_KVM", "1")
                .lines(l -> System.out.println("[kvm tier in L1] " + l)));

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
        assertTrue(notPassed.isEmpty(), "kvm-tier tests did not pass in L1: " + notPassed);
        assertEquals(0, r.exitCode(), "the kvm tier in L1 exited " + r.exitCode() + ":\n" + r.output());
        assertEquals(classes, passedPerClass.keySet(), "every kvm-tier class ran and passed in L1");
        assertFalse(r.output().contains("TIER-CONTAINER"), r.output());
    }

    /** Top-level classes under {@code root} whose class file refers to {@code @KvmTest}. */
    static List<String> kvmTestClasses(Path root) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path f : s.filter(p -> p.toString().endsWith("Test.class")).toList()) {
                if (indexOf(Files.readAllBytes(f), KVM_TEST_DESCRIPTOR) >= 0) {
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

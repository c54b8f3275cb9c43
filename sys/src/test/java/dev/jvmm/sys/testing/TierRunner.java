package dev.jvmm.sys.testing;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs the tests of one tag from the given classes in this JVM and reports each on its own line, for a caller
 * that reads the output (the kvm tier inside the lab's L1, see {@link KvmTier}):
 * <pre>
 * TIER-TEST SUCCESSFUL dev.jvmm.core.KvmGuestsTest#realModeGuestWritesToTheSerialPortAndHalts() 412 ms
 * TIER-TEST FAILED dev.jvmm.irq.IrqRoutingKvmTest#msiRoute() 88 ms: AssertionFailedError: expected ...
 * TIER-SUMMARY tests=31 successful=31 failed=0 aborted=0 skipped=0
 * </pre>
 * A test's own output goes to stdout as it happens. Exit status 0 only when at least one test ran and every test
 * that was found succeeded (aborted and skipped count as not run, which is a failure here).
 *
 * <p>Usage: {@code TierRunner TAG CLASS...}
 */
public final class TierRunner {
    private TierRunner() {
    }

    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: TierRunner TAG CLASS...");
            System.exit(2);
        }
        List<org.junit.platform.engine.DiscoverySelector> selectors = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            selectors.add(selectClass(args[i]));
        }
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectors)
                .filters(TagFilter.includeTags(args[0])).build();
        Launcher launcher = LauncherFactory.create();
        Map<String, Integer> counts = new TreeMap<>();
        int[] tests = {0};
        launcher.execute(request, new TestExecutionListener() {
            private final Map<String, Long> started = new java.util.HashMap<>();

            @Override
            public void testPlanExecutionStarted(TestPlan plan) {
                long n = plan.countTestIdentifiers(TestIdentifier::isTest);
                System.out.println("TIER-PLAN tests=" + n);
            }

            @Override
            public void executionStarted(TestIdentifier id) {
                started.put(id.getUniqueId(), System.nanoTime());
            }

            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                if (id.isTest()) {
                    tests[0]++;
                    counts.merge("skipped", 1, Integer::sum);
                    System.out.println("TIER-TEST SKIPPED " + name(id) + ": " + reason);
                }
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult r) {
                long ms = (System.nanoTime() - started.getOrDefault(id.getUniqueId(), System.nanoTime())) / 1_000_000;
                String why = r.getThrowable().map(t -> ": " + t).orElse("");
                if (id.isTest()) {
                    tests[0]++;
                    counts.merge(r.getStatus().name().toLowerCase(java.util.Locale.ROOT), 1, Integer::sum);
                    System.out.println("TIER-TEST " + r.getStatus() + " " + name(id) + " " + ms + " ms" + why);
                } else if (r.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                    // a class-level failure (e.g. @BeforeAll) fails the run even when no test got to start
                    counts.merge("failed", 1, Integer::sum);
                    System.out.println("TIER-CONTAINER " + r.getStatus() + " " + id.getDisplayName() + why);
                    r.getThrowable().ifPresent(t -> t.printStackTrace(System.out));
                }
                if (id.isTest() && r.getStatus() == TestExecutionResult.Status.FAILED) {
                    r.getThrowable().ifPresent(t -> t.printStackTrace(System.out));
                }
            }
        });
        int ok = counts.getOrDefault("successful", 0);
        System.out.println("TIER-SUMMARY tests=" + tests[0] + " successful=" + ok + " failed="
                + counts.getOrDefault("failed", 0) + " aborted=" + counts.getOrDefault("aborted", 0) + " skipped="
                + counts.getOrDefault("skipped", 0));
        System.out.flush();
        System.exit(tests[0] > 0 && ok == tests[0] && counts.getOrDefault("failed", 0) == 0 ? 0 : 1);
    }

    /** {@code dev.jvmm.core.KvmGuestsTest#method()} from a method source, else the display name. */
    static String name(TestIdentifier id) {
        return id.getSource().filter(s -> s instanceof org.junit.platform.engine.support.descriptor.MethodSource)
                .map(s -> (org.junit.platform.engine.support.descriptor.MethodSource) s)
                .map(m -> m.getClassName() + "#" + m.getMethodName() + "()")
                .orElse(id.getDisplayName());
    }
}

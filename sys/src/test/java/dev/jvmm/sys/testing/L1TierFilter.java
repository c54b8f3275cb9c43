package dev.jvmm.sys.testing;

import org.junit.platform.engine.FilterResult;
import org.junit.platform.engine.TestDescriptor;
import org.junit.platform.engine.TestTag;
import org.junit.platform.launcher.PostDiscoveryFilter;

/**
 * Takes {@link L1Test} classes out of every test plan but the one that runs inside L1 ({@link #inL1()}): they
 * run there, from the lab test that runs the L1 tier, and are not reported as skipped where they do not run.
 * Registered through {@code META-INF/services} of this test-jar, beside {@link KvmTierFilter}.
 */
public final class L1TierFilter implements PostDiscoveryFilter {
    private static final TestTag L1 = TestTag.create(L1Test.TAG);

    /** Whether this JVM runs the L1 tier inside L1 ({@value L1Test#ENV}=1). */
    public static boolean inL1() {
        return "1".equals(System.getenv(L1Test.ENV));
    }

    @Override
    public FilterResult apply(TestDescriptor d) {
        if (!d.getTags().contains(L1) || inL1()) {
            return FilterResult.included("not an L1-tier test, or inside L1");
        }
        return FilterResult.excluded("the L1 tier runs inside the lab's L1");
    }
}

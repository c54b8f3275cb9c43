package dev.jvmm.sys.testing;

import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.platform.engine.FilterResult;
import org.junit.platform.engine.TestDescriptor;
import org.junit.platform.engine.TestTag;
import org.junit.platform.launcher.PostDiscoveryFilter;

/**
 * Puts each kvm-tier test where {@link KvmTier#where()} says it runs: on a host that runs the tier itself, the
 * in-lab runner ({@value KvmTier#IN_LAB_TAG}) leaves the plan; on a host that runs it in the lab, the tier's own
 * classes leave the modules' plans (the in-lab runner runs them in L1). Taken out, not skipped: nothing is reported
 * as skipped that in fact runs elsewhere. Registered through {@code META-INF/services} of this test-jar, so every
 * module whose tests use {@link KvmTest} gets it.
 */
public final class KvmTierFilter implements PostDiscoveryFilter {
    private static final TestTag KVM = TestTag.create(KvmTier.TAG);
    private static final TestTag IN_LAB = TestTag.create(KvmTier.IN_LAB_TAG);
    private static final AtomicBoolean TOLD = new AtomicBoolean();

    @Override
    public FilterResult apply(TestDescriptor d) {
        boolean inLabRunner = d.getTags().contains(IN_LAB);
        boolean tier = d.getTags().contains(KVM) && !inLabRunner;
        if (!inLabRunner && !tier) {
            return FilterResult.included("not a kvm-tier test");
        }
        KvmTier.Where w = KvmTier.where();
        if (TOLD.compareAndSet(false, true)) {
            System.out.println("[kvm tier] " + (w.inLab() ? "runs inside the lab's L1 (" + w.reason()
                    + "); this JVM's kvm-tier classes run there, from the kvm-in-lab test in vmm"
                    : "runs on this host (" + w.reason() + ")"));
        }
        if (tier && w.inLab()) {
            return FilterResult.excluded("kvm tier runs inside the lab's L1: " + w.reason());
        }
        if (inLabRunner && !w.inLab()) {
            return FilterResult.excluded("kvm tier runs on this host: " + w.reason());
        }
        return FilterResult.included("kvm tier runs here");
    }
}

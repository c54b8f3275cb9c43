package dev.jvmm.sys.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The condition behind {@link KvmTest}, for a test that runs in this JVM: {@link KvmTierFilter} has already sent the
 * tier to the lab where this host's KVM cannot run it, so what reaches here without a usable /dev/kvm was forced onto
 * the host ({@code JVMM_KVM_TIER=host}) or run on its own (an IDE, {@code -Dtest=}).
 */
public final class KvmRequirement implements ExecutionCondition {
    /** True when this machine is meant to run the kvm tier, so a missing /dev/kvm is a failure. */
    public static boolean required() {
        return "true".equalsIgnoreCase(System.getenv("CI")) || "1".equals(System.getenv("JVMM_REQUIRE_KVM"));
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        Path kvm = Path.of("/dev/kvm");
        String problem = null;
        if (!Files.exists(kvm)) {
            problem = "/dev/kvm does not exist (on this host the kvm tier runs inside the lab: ./run-tests"
                    + " -Djvmm.groups=kvm, or JVMM_KVM_TIER=auto)";
        } else if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
            problem = "/dev/kvm is not accessible to this user (add the user to group kvm)";
        }
        if (problem == null) {
            return ConditionEvaluationResult.enabled("/dev/kvm is usable");
        }
        if (required()) {
            throw new IllegalStateException("kvm-tier test cannot run on a machine meant to run it: " + problem);
        }
        System.out.println("SKIP kvm-tier " + context.getDisplayName() + ": " + problem);
        return ConditionEvaluationResult.disabled(problem);
    }
}

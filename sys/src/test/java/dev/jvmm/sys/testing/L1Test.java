package dev.jvmm.sys.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * Marks an L1-tier test class: it needs a host device that only the lab's emulated host (L1) is sure to have, such
 * as {@code /dev/vhost-net}, and no Linux guest (so no L2 boot). {@link L1TierFilter} takes such classes out of the
 * modules' own test plans; the one {@value #RUNNER_TAG} lab test in {@code vmm} runs them all in one JVM inside L1,
 * with {@value #ENV}=1, where a missing device is a failure.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag(L1Test.TAG)
public @interface L1Test {
    String TAG = "l1";
    /** Tag of the lab test that runs the L1 tier inside L1. */
    String RUNNER_TAG = "l1-runner";
    /** Set to 1 in the JVM that runs the L1 tier inside L1. */
    String ENV = "JVMM_IN_L1";
}

package dev.jvmm.vmm;

import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.junit.LabTest;
import dev.jvmm.sys.testing.KvmTest;
import dev.jvmm.sys.testing.KvmTier;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The kvm tier, run inside the lab's L1 on a host whose own /dev/kvm cannot run it ({@link KvmTier}): every
 * {@code @KvmTest} class of every module (found in the modules' compiled test classes, so a new one is never
 * forgotten) runs in one JVM in the L1 this test JVM already shares with the other lab tests, on L1's nested KVM
 * ({@link TierInL1}). On a host that runs the tier itself, {@code KvmTierFilter} leaves this test out.
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
        TierInL1.runAll(lab, KVM_TEST_DESCRIPTOR, KvmTier.TAG, "kvm tier", VmKvmTest.class.getName(),
                Map.of("JVMM_KVM_TIER", "host", "JVMM_REQUIRE_KVM", "1"));
    }
}

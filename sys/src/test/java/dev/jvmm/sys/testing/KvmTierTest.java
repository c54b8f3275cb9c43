package dev.jvmm.sys.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Where the kvm tier runs, decided from the host's KVM and JVMM_KVM_TIER. */
class KvmTierTest {
    @Test
    void autoFollowsTheHost() {
        assertFalse(KvmTier.decide(Map.of(), null).inLab());
        KvmTier.Where w = KvmTier.decide(Map.of("JVMM_KVM_TIER", "auto"), "this host has no /dev/kvm");
        assertTrue(w.inLab());
        assertEquals("this host has no /dev/kvm", w.reason());
    }

    @Test
    void theEnvironmentForcesEitherPlace() {
        assertTrue(KvmTier.decide(Map.of("JVMM_KVM_TIER", "lab"), null).inLab());
        assertFalse(KvmTier.decide(Map.of("JVMM_KVM_TIER", "HOST"), "this host has no /dev/kvm").inLab());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KvmTier.decide(Map.of("JVMM_KVM_TIER", "l1"), null));
        assertEquals("JVMM_KVM_TIER=l1 is not valid (use auto, host or lab)", e.getMessage());
    }

    @Test
    void theHostAnswerMatchesDevKvm() {
        // the fact is checked here independently: no /dev/kvm must give a reason naming it
        String problem = KvmTier.hostProblem();
        if (!java.nio.file.Files.exists(java.nio.file.Path.of("/dev/kvm"))) {
            assertEquals("this host has no /dev/kvm", problem);
        } else if (problem != null) {
            assertTrue(problem.contains("/dev/kvm"), problem);
        }
    }
}

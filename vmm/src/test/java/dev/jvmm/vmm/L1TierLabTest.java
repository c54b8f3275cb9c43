package dev.jvmm.vmm;

import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.junit.LabTest;
import dev.jvmm.sys.testing.L1Test;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The L1 tier ({@code @L1Test}): test classes that need a device only the lab's L1 is sure to have (the kernel's
 * {@code /dev/vhost-net}) but no guest, run in one JVM inside the L1 this test JVM shares with the other lab tests.
 */
@LabTest
@Tag(L1Test.RUNNER_TAG)
class L1TierLabTest {
    /** Built at run time: as a literal it would make this class look like an L1-tier class to the scan. */
    private static final byte[] L1_TEST_DESCRIPTOR = ("L" + L1Test.class.getName().replace('.', '/') + ";")
            .getBytes(StandardCharsets.US_ASCII);

    @Test
    void everyL1TierClassPassesInsideL1(LabSession lab) throws IOException {
        TierInL1.runAll(lab, L1_TEST_DESCRIPTOR, L1Test.TAG, "L1 tier", "dev.jvmm.virtio.net.VirtioNetVhostTest",
                Map.of(L1Test.ENV, "1"));
    }
}

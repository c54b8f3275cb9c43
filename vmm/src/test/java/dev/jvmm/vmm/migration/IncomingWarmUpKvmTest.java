package dev.jvmm.vmm.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.testing.KvmTest;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The destination's warm-up on /dev/kvm: a scratch VM's disk brought up by the driver's steps, its state captured,
 * a second VM built from it the way a migration's destination builds one, run until the tiny kernel powers off; and
 * nothing of it left behind (fds, temporary files).
 */
@KvmTest
class IncomingWarmUpKvmTest {
    private static java.util.Map<Integer, String> openFds() {
        return dev.jvmm.sys.testing.OpenFds.now();
    }

    private static long scratchDirs() throws Exception {
        try (var s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.filter(p -> p.getFileName().toString().startsWith("jvmm-warm-up")).count();
        }
    }

    @Test
    void aScratchVmMigratesWithinTheProcessAndLeavesNothingBehind() throws Exception {
        long dirs = scratchDirs();
        java.util.Map<Integer, String> fds = openFds();
        long ms = IncomingWarmUp.run();
        assertTrue(ms >= 0, "the warm-up ran to the scratch VM's power-off (see the log for why not)");
        assertEquals(java.util.List.of(), dev.jvmm.sys.testing.OpenFds.leaked(fds), "every fd of both scratch VMs and of their disk is closed");
        assertEquals(dirs, scratchDirs(), "the warm-up's temporary directory is gone");
        // a second one runs as well (nothing of the first is in its way)
        assertTrue(IncomingWarmUp.run() >= 0, "a second warm-up");
        assertEquals(java.util.List.of(), dev.jvmm.sys.testing.OpenFds.leaked(fds), "and leaves no fd either");
    }
}

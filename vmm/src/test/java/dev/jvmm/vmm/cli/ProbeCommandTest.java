package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@code jvmm probe}: options, exit codes and --require against this host's own verdicts. */
@Tag("unit")
class ProbeCommandTest {
    @Test
    void badOptionsAreUsageErrors() {
        CliRun r = CliRun.of("probe", "--require", "gpu");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown use case 'gpu'; expected one of virtio, passthrough, sriov"), r.err());
        r = CliRun.of("probe", "--memory", "lots");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("\"lots\" is not a size (use e.g. 512M or 2G)"), r.err());
        r = CliRun.of("probe", "--memory", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("\"0\" is not a size above 0"), r.err());
    }

    @Test
    void requireExitsThreeExactlyWhenTheVerdictSaysNotReady() {
        // the JSON verdict is the truth; the exit code must follow it (0 ready, 3 not ready)
        CliRun r = CliRun.of("probe", "--json", "--no-kvm-speed", "--require", "passthrough");
        assertTrue(r.out().startsWith("{"), r.out() + r.err());
        int v = r.out().indexOf("\"passthrough\": {");
        assertTrue(v > 0, r.out());
        boolean ready = r.out().substring(v, r.out().indexOf('\n', v + 20)).contains("\"ready\": true");
        assertEquals(ready ? 0 : 3, r.code(), r.out());
        if (!Files.exists(Path.of("/sys/kernel/iommu_groups/0"))) {
            assertEquals(3, r.code(), "no IOMMU groups here, so passthrough cannot be ready");
        }
        // without --require the report is printed and the exit code is 0 whatever the verdicts
        assertEquals(0, CliRun.of("probe", "--no-kvm-speed").code());
    }

    @Test
    void tableWithoutATerminalHasNoColour() {
        CliRun r = CliRun.of("probe", "--no-kvm-speed");
        String out = r.out();
        assertFalse(out.contains("\u001b["), "System.console() is null under the test runner");
        assertTrue(out.contains("VERDICTS"), out);
        // a status word the table colours when asked is there, plain: the /dev/kvm line this host must print, decided
        // from /dev/kvm itself (kvm.speed is only checked where /dev/kvm can be opened)
        Path kvm = Path.of("/dev/kvm");
        String expected;
        if (!Files.exists(kvm)) {
            expected = "\n  FAIL kvm.device                 /dev/kvm does not exist";
            assertFalse(out.contains("kvm.speed"), out);
        } else if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
            expected = "\n  FAIL kvm.device                 /dev/kvm is not accessible to this user";
        } else {
            expected = "\n  INFO kvm.speed                  KVM speed not measured (--no-kvm-speed)";
        }
        assertTrue(out.contains(expected), "expected '" + expected.substring(1) + "' in:\n" + out);
    }
}

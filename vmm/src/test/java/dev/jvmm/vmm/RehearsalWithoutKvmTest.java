package dev.jvmm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jvmm.vmm.boot.TinyKernel;
import dev.jvmm.vmm.config.ConfigLoader;
import dev.jvmm.vmm.config.ConsoleSpec;
import dev.jvmm.vmm.config.VmConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's training without KVM ({@link VmBuilder#rehearseWithoutKvm}): the boot path that needs no /dev/kvm
 * runs anywhere, the training kernel's serial bytes reach the console and its ACPI write powers the rehearsal off; with
 * tables built ahead ({@link VmBuilder#buildAcpiAhead}) too.
 */
class RehearsalWithoutKvmTest {
    @TempDir
    Path dir;

    private VmConfig config(String memory) throws Exception {
        Path kernel = Files.write(dir.resolve("bzImage"), TinyKernel.bzImage());
        Path initrd = Files.write(dir.resolve("initrd"), new byte[4096]);
        return ConfigLoader.validate(ConfigLoader.fromCli(kernel.toString(), initrd.toString(), "console=ttyS0",
                memory, "2", "file=" + dir.resolve("console"), null), 255);
    }

    @Test
    void theBootPathWithoutKvmPowersOff() throws Exception {
        VmConfig cfg = config("64M");
        VmExit exit;
        try (Console console = Console.open(cfg.console())) {
            exit = VmBuilder.rehearseWithoutKvm(cfg, console);
        }
        assertEquals(VmExit.Kind.POWEROFF, exit.kind(), exit.message());
        assertEquals("j\n", Files.readString(dir.resolve("console")));
    }

    @Test
    void tablesBuiltAheadAreTakenOrLeft() throws Exception {
        VmBuilder.buildAcpiAhead(config("128M")); // another RAM size: the rehearsal builds its own
        VmConfig cfg = config("64M");
        for (int i = 0; i < 2; i++) { // the second time with tables built ahead for it
            try (Console console = Console.open(new ConsoleSpec(ConsoleSpec.Kind.NONE, null))) {
                assertEquals(VmExit.Kind.POWEROFF, VmBuilder.rehearseWithoutKvm(cfg, console).kind());
            }
            VmBuilder.buildAcpiAhead(cfg);
        }
    }
}

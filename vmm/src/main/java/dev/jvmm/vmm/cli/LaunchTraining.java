package dev.jvmm.vmm.cli;

import dev.jvmm.vmm.boot.TinyKernel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The AppCDS training launch of the {@code ./jvmm} launcher (docs/performance.md): a complete {@code jvmm launch}
 * of {@link TinyKernel} with an initrd, so that the dynamic archive
 * holds every class a real launch loads up to and through the vCPU run loop and the exit path, not only those up to
 * a failing kernel check. Without a usable /dev/kvm it stops where the launch fails, and archives what it loaded.
 */
public final class LaunchTraining {
    private LaunchTraining() {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Files.createTempDirectory("jvmm-training");
        Path kernel = dir.resolve("bzImage");
        Path initrd = dir.resolve("initrd");
        Files.write(kernel, TinyKernel.bzImage());
        Files.write(initrd, new byte[4096]);
        kernel.toFile().deleteOnExit();
        initrd.toFile().deleteOnExit();
        dir.toFile().deleteOnExit();
        LaunchCommand.main(new String[] {"--kernel", kernel.toString(), "--initrd", initrd.toString(),
            "--memory", "64M", "--cpus", "1", "--cmdline", "console=ttyS0"});
    }
}

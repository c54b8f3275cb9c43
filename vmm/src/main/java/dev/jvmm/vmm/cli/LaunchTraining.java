package dev.jvmm.vmm.cli;

import dev.jvmm.vmm.boot.TinyKernel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The training launch of the {@code ./jvmm} launcher (docs/performance.md), for its AppCDS archive or AOT cache: a
 * complete {@code jvmm launch} of {@link TinyKernel} with an initrd, so that the archive holds every class a real
 * launch loads up to and through the vCPU run loop and the exit path, not only those up to a failing kernel check.
 * Without a usable /dev/kvm it stops where the launch fails, and archives what it loaded.
 *
 * <p>{@code LaunchTraining --write DIR} only writes the training's kernel and initrd ({@code DIR/bzImage},
 * {@code DIR/initrd}), for bench/boot/startup.sh.
 */
public final class LaunchTraining {
    private LaunchTraining() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length == 2 && args[0].equals("--write")) {
            write(Path.of(args[1]));
            return;
        }
        Path dir = Files.createTempDirectory("jvmm-training");
        write(dir);
        Path kernel = dir.resolve("bzImage");
        Path initrd = dir.resolve("initrd");
        kernel.toFile().deleteOnExit();
        initrd.toFile().deleteOnExit();
        dir.toFile().deleteOnExit();
        LaunchCommand.main(new String[] {"--kernel", kernel.toString(), "--initrd", initrd.toString(),
            "--memory", "64M", "--cpus", "1", "--cmdline", "console=ttyS0"});
    }

    /** The training's guest: {@code dir/bzImage} ({@link TinyKernel}) and a 4 KiB {@code dir/initrd}. */
    static void write(Path dir) throws IOException {
        Files.write(dir.resolve("bzImage"), TinyKernel.bzImage());
        Files.write(dir.resolve("initrd"), new byte[4096]);
    }
}

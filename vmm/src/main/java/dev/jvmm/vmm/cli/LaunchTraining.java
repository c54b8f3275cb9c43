package dev.jvmm.vmm.cli;

import dev.jvmm.vmm.Console;
import dev.jvmm.vmm.VmBuilder;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.boot.TinyKernel;
import dev.jvmm.vmm.config.ConfigLoader;
import dev.jvmm.vmm.config.VmConfig;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;

/**
 * The training launch of the {@code ./jvmm} launcher (docs/performance.md), for its AOT cache (JDK 25 and later) or
 * AppCDS archive: a complete {@code jvmm launch} of {@link TinyKernel} with an initrd, so that the archive holds every
 * class a real launch loads up to and through the vCPU run loop and the exit path, not only those up to a failing
 * kernel check.
 *
 * <p>Without a usable /dev/kvm (a build host without KVM whose tree the lab's L1 then runs read-only) the launch
 * stops where it opens /dev/kvm; the training then walks the rest of the boot path that needs no KVM
 * ({@link VmBuilder#rehearseWithoutKvm}: guest RAM, ACPI tables, kernel and initrd, the board's devices and the
 * training kernel's port I/O through them) and the exit path of a power-off, so that the archive holds those too.
 * What stays out then is the KVM wrappers, the vCPU thread and its run loop.
 *
 * <p>It creates nothing a launch does not (no temporary-file API, whose SecureRandom would put the security
 * providers into the archive, and so into every launch's start-up). {@code LaunchTraining --write DIR} only writes
 * the training's kernel and initrd ({@code DIR/bzImage}, {@code DIR/initrd}), for bench/boot/startup.sh.
 */
public final class LaunchTraining {
    private static final String MEMORY = "64M";
    private static final String CMDLINE = "console=ttyS0";

    private LaunchTraining() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length == 2 && args[0].equals("--write")) {
            write(new File(args[1]));
            return;
        }
        File dir = new File(System.getProperty("java.io.tmpdir"), "jvmm-training-" + ProcessHandle.current().pid());
        if (!dir.mkdir()) {
            throw new IOException("cannot create " + dir);
        }
        File kernel = new File(dir, "bzImage");
        File initrd = new File(dir, "initrd");
        try {
            write(dir);
            int status = LaunchCommand.run(new String[] {"--kernel", kernel.getPath(), "--initrd", initrd.getPath(),
                "--memory", MEMORY, "--cpus", "1", "--cmdline", CMDLINE});
            if (status != 0) {
                withoutKvm(kernel.getPath(), initrd.getPath());
            }
        } finally {
            kernel.delete();
            initrd.delete();
            dir.delete();
        }
        System.exit(0);
    }

    /** The launch's way after /dev/kvm, where it needs none ({@link VmBuilder#rehearseWithoutKvm}), and its end. */
    static int withoutKvm(String kernel, String initrd) {
        try {
            VmConfig cfg = ConfigLoader.validate(ConfigLoader.fromCli(kernel, initrd, CMDLINE, MEMORY, "1", null, null),
                    1);
            try (Console console = Console.open(cfg.console())) {
                return LaunchCommand.exitCode(VmBuilder.rehearseWithoutKvm(cfg, console));
            }
        } catch (VmmException | ExitCodeException e) {
            System.err.println("jvmm: the training's walk without KVM failed: " + e.getMessage());
            return 1;
        }
    }

    /** The training's guest: {@code dir/bzImage} ({@link TinyKernel}) and a 4 KiB {@code dir/initrd}. */
    static void write(File dir) throws IOException {
        try (FileOutputStream k = new FileOutputStream(new File(dir, "bzImage"));
             FileOutputStream i = new FileOutputStream(new File(dir, "initrd"))) {
            k.write(TinyKernel.bzImage());
            i.write(new byte[4096]);
        }
    }
}

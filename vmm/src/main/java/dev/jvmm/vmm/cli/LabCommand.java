package dev.jvmm.vmm.cli;

import dev.jvmm.lab.GuestKit;
import dev.jvmm.lab.HostPrereqs;
import dev.jvmm.lab.LabConfig;
import dev.jvmm.lab.LabRun;
import dev.jvmm.lab.LabSetup;
import dev.jvmm.lab.LabShell;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jvmm lab}: the emulated host (QEMU L1 with nested KVM, intel-iommu, igb and NVMe SR-IOV) and its guest kit.
 * Parses options and delegates to {@code dev.jvmm.lab}; see docs/lab.md.
 */
@Command(name = "lab", mixinStandardHelpOptions = true,
        description = "The lab: an emulated host (QEMU/TCG L1 with nested KVM, intel-iommu, igb and NVMe SR-IOV PFs, the host's / read-only over 9p) and the guest kit (Debian kernel + busybox initramfs). See docs/lab.md.",
        subcommands = {LabCommand.Setup.class, LabCommand.Kit.class, LabCommand.Run.class, LabCommand.Shell.class})
public final class LabCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(System.out);
        return 0;
    }

    @Command(name = "setup", mixinStandardHelpOptions = true,
            description = "Install the host packages the lab needs, through apt (as root): busybox-static, cpio, kmod, gcc, libc6-dev, e2fsprogs, ... and QEMU >= 8.0 (on Debian 12 from bookworm-backports, whose apt source this adds).")
    static final class Setup implements Callable<Integer> {
        @Override
        public Integer call() {
            LabSetup.run(System.err::println);
            var missing = HostPrereqs.checkAll(LabConfig.fromEnvironment());
            if (!missing.isEmpty()) {
                System.err.println(HostPrereqs.describe(missing));
                return 1;
            }
            System.out.println("lab host ready");
            return 0;
        }
    }

    @Command(name = "kit", mixinStandardHelpOptions = true,
            description = "Build (or reuse, cached by kernel version under $JVMM_LAB_DIR, default /var/tmp/jvmm-lab) the guest kit and print its paths.")
    static final class Kit implements Callable<Integer> {
        @Override
        public Integer call() {
            GuestKit.Kit k = GuestKit.ensure(LabConfig.fromEnvironment(), System.err::println);
            System.out.println("package=" + k.packageName());
            System.out.println("release=" + k.release());
            System.out.println("kernel=" + k.kernel());
            System.out.println("initrd-l1=" + k.initrdL1());
            System.out.println("initrd-guest=" + k.initrdGuest());
            System.out.println("modules=" + k.modulesRoot().resolve("lib/modules").resolve(k.release()));
            for (String h : GuestKit.HELPERS) {
                System.out.println("helper." + h + "=" + k.helper(h));
            }
            return 0;
        }
    }

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = "Boot L1, run CMD inside it (chroot into the host's /, same working directory), stream its output with timestamps and exit with CMD's exit code (124 on timeout). Example: jvmm lab run -- uname -a")
    static final class Run implements Callable<Integer> {
        @Option(names = "--timeout", defaultValue = "600", paramLabel = "SECONDS",
                description = "Kill CMD after this many seconds (default: ${DEFAULT-VALUE}).")
        long timeoutSeconds;

        @Option(names = {"-v", "--verbose"}, description = "Also show L1's serial console.")
        boolean verbose;

        @Parameters(arity = "1..*", paramLabel = "CMD", description = "The command and its arguments (after --).")
        List<String> command;

        @Override
        public Integer call() {
            return LabRun.run(LabConfig.fromEnvironment(), command, Duration.ofSeconds(timeoutSeconds), verbose,
                    System.out, System.err);
        }
    }

    @Command(name = "shell", mixinStandardHelpOptions = true,
            description = "Boot L1 with an interactive shell on its serial console (host / read-only, tmpfs /tmp). 'exit' powers L1 off; Ctrl-A X quits QEMU.")
    static final class Shell implements Callable<Integer> {
        @Override
        public Integer call() {
            return LabShell.run(LabConfig.fromEnvironment(), System.err::println);
        }
    }
}

package dev.jvmm.vmm.config;

import java.nio.file.Path;

/**
 * A validated VM configuration (see docs/launch.md for the CLI and JSON forms).
 *
 * @param kernel   a bzImage, or a vmlinux ELF with a PVH entry note
 * @param initrd   an initramfs, or null
 * @param cmdline  the kernel command line
 * @param memory   guest RAM in bytes (a multiple of 2 MiB)
 * @param cpus     vCPUs, 1..KVM_CAP_MAX_VCPUS
 * @param console  where the 16550 at 0x3f8 goes
 * @param onReboot what a guest reset request does
 */
public record VmConfig(Path kernel, Path initrd, String cmdline, long memory, int cpus, ConsoleSpec console,
        OnReboot onReboot) {
    /** The default kernel command line: serial console, reboot on panic (which jvmm reports as a crash). */
    public static final String DEFAULT_CMDLINE = "console=ttyS0 panic=-1";
    public static final long DEFAULT_MEMORY = 512L << 20;
    public static final long MIN_MEMORY = 32L << 20;
    public static final long MAX_MEMORY = 1L << 40;

    /** What a reset request (i8042 0xFE, ACPI reset register) does. */
    public enum OnReboot {
        /** jvmm exits with status 0 (the default; a supervisor decides what next). */
        EXIT,
        /** jvmm tears the VM down and boots it again from the same configuration. */
        RESTART
    }

    public VmConfig withKernel(Path k) {
        return new VmConfig(k, initrd, cmdline, memory, cpus, console, onReboot);
    }
}

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
 * @param disks    virtio-blk devices ({@code --disk}), in PCI slot order
 * @param nets     virtio-net devices ({@code --net}), after the disks
 * @param vfio     host PCI functions passed through with VFIO ({@code --device}), after the virtio devices
 * @param nics     NICs that are a VF, virtio-net or either ({@code --nic}); what each becomes is planned by
 *                 {@link dev.jvmm.vmm.nic.NicPlanner} before the VM is built
 * @param migratable the VM must stay migratable ({@code --migratable}): no NIC may be a passed-through VF
 * @param extras   the other virtio devices (rng, console, balloon, vsock); {@link VirtioExtras#NONE} for none
 */
public record VmConfig(Path kernel, Path initrd, String cmdline, long memory, int cpus, ConsoleSpec console,
        OnReboot onReboot, java.util.List<DiskConfig> disks, java.util.List<NetConfig> nets,
        java.util.List<VfioConfig> vfio, java.util.List<NicConfig> nics, boolean migratable, VirtioExtras extras) {
    public VmConfig {
        disks = disks == null ? java.util.List.of() : java.util.List.copyOf(disks);
        nets = nets == null ? java.util.List.of() : java.util.List.copyOf(nets);
        vfio = vfio == null ? java.util.List.of() : java.util.List.copyOf(vfio);
        nics = nics == null ? java.util.List.of() : java.util.List.copyOf(nics);
        extras = extras == null ? VirtioExtras.NONE : extras;
    }

    /** A VM without the other virtio devices. */
    public VmConfig(Path kernel, Path initrd, String cmdline, long memory, int cpus, ConsoleSpec console,
            OnReboot onReboot, java.util.List<DiskConfig> disks, java.util.List<NetConfig> nets,
            java.util.List<VfioConfig> vfio, java.util.List<NicConfig> nics, boolean migratable) {
        this(kernel, initrd, cmdline, memory, cpus, console, onReboot, disks, nets, vfio, nics, migratable, null);
    }

    /** A VM with virtio and VFIO devices and no {@code --nic}. */
    public VmConfig(Path kernel, Path initrd, String cmdline, long memory, int cpus, ConsoleSpec console,
            OnReboot onReboot, java.util.List<DiskConfig> disks, java.util.List<NetConfig> nets,
            java.util.List<VfioConfig> vfio) {
        this(kernel, initrd, cmdline, memory, cpus, console, onReboot, disks, nets, vfio, null, false);
    }

    /** A VM with virtio devices and no VFIO devices. */
    public VmConfig(Path kernel, Path initrd, String cmdline, long memory, int cpus, ConsoleSpec console,
            OnReboot onReboot, java.util.List<DiskConfig> disks, java.util.List<NetConfig> nets) {
        this(kernel, initrd, cmdline, memory, cpus, console, onReboot, disks, nets, null);
    }

    /** A VM without virtio devices. */
    public VmConfig(Path kernel, Path initrd, String cmdline, long memory, int cpus, ConsoleSpec console,
            OnReboot onReboot) {
        this(kernel, initrd, cmdline, memory, cpus, console, onReboot, null, null);
    }

    /** The same VM with these virtio devices. */
    public VmConfig withDevices(java.util.List<DiskConfig> d, java.util.List<NetConfig> n) {
        return new VmConfig(kernel, initrd, cmdline, memory, cpus, console, onReboot, d, n, vfio, nics, migratable, extras);
    }

    /** The same VM with these VFIO devices. */
    public VmConfig withVfio(java.util.List<VfioConfig> v) {
        return new VmConfig(kernel, initrd, cmdline, memory, cpus, console, onReboot, disks, nets, v, nics, migratable, extras);
    }

    /** The same VM with these other virtio devices. */
    public VmConfig withExtras(VirtioExtras e) {
        return new VmConfig(kernel, initrd, cmdline, memory, cpus, console, onReboot, disks, nets, vfio, nics, migratable, e);
    }

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
        return new VmConfig(k, initrd, cmdline, memory, cpus, console, onReboot, disks, nets, vfio, nics, migratable, extras);
    }
}

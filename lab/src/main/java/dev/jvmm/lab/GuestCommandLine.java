package dev.jvmm.lab;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * A QEMU command line that boots the kit's kernel and guest initramfs as an L2 guest inside L1 with
 * {@code -enable-kvm}: the baseline that jvmm's own boot is compared against. The guest's /init runs the given
 * scenario script, prints it between {@code JVMM-LAB: scenario-start} / {@code scenario-exit rc=N} markers and powers
 * off, so QEMU exits 0. Same console setup as jvmm's boots ({@code ttyS0}, {@code quiet}): the serial console
 * dominates L2 boot time, so compare only like with like.
 */
public final class GuestCommandLine {

    /** x86 COMMAND_LINE_SIZE is 2048; keep clear of it. */
    static final int MAX_APPEND = 2000;

    private String qemu = "qemu-system-x86_64";
    private Path kernel;
    private Path initrd;
    private String machine = "q35";
    private int memoryMb = 512;
    private String script;
    private boolean quiet = true;
    private final List<String> extra = new ArrayList<>();

    public static GuestCommandLine forKit(GuestKit.Kit kit) {
        return new GuestCommandLine().kernel(kit.kernel(), kit.initrdGuest());
    }

    public GuestCommandLine qemu(String binary) {
        this.qemu = binary;
        return this;
    }

    public GuestCommandLine kernel(Path kernel, Path initrd) {
        this.kernel = kernel;
        this.initrd = initrd;
        return this;
    }

    /** {@code q35} (default) or {@code microvm}. */
    public GuestCommandLine machine(String machine) {
        this.machine = machine;
        return this;
    }

    public GuestCommandLine memoryMb(int mb) {
        this.memoryMb = mb;
        return this;
    }

    /** The scenario /init runs (busybox sh). */
    public GuestCommandLine script(String script) {
        this.script = script;
        return this;
    }

    public GuestCommandLine quiet(boolean quiet) {
        this.quiet = quiet;
        return this;
    }

    public GuestCommandLine extra(String... args) {
        extra.addAll(List.of(args));
        return this;
    }

    /** {@code JVMM_SCRIPT=<base64>}: how a scenario travels on the kernel command line. */
    public static String scriptWord(String script) {
        return "JVMM_SCRIPT=" + Base64.getEncoder().encodeToString(script.getBytes(StandardCharsets.UTF_8));
    }

    public String appendLine() {
        StringBuilder sb = new StringBuilder("console=ttyS0 panic=-1");
        if (quiet) {
            sb.append(" quiet");
        }
        if (script != null) {
            sb.append(' ').append(scriptWord(script));
        }
        if (sb.length() > MAX_APPEND) {
            throw new IllegalArgumentException("scenario too long for the kernel command line (" + sb.length()
                    + " > " + MAX_APPEND + " bytes); put it on a disk (JVMM_SCENARIO_DEV) instead");
        }
        return sb.toString();
    }

    public List<String> build() {
        if (kernel == null || initrd == null) {
            throw new IllegalStateException("kernel and initrd are required");
        }
        List<String> c = new ArrayList<>(List.of(qemu, "-enable-kvm", "-cpu", "host", "-M", machine,
                "-m", Integer.toString(memoryMb), "-smp", "1", "-display", "none", "-vga", "none", "-nodefaults",
                "-no-reboot", "-serial", "stdio", "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                "-append", appendLine()));
        c.addAll(extra);
        return c;
    }

    /** The command line as one shell command. */
    public String toShell() {
        return ShellQuote.join(build());
    }
}

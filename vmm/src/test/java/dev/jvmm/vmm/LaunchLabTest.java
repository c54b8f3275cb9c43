package dev.jvmm.vmm;

import static dev.jvmm.vmm.LabCli.line;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.Classpath;
import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.GuestCommandLine;
import dev.jvmm.lab.InitMarkers;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.ShellQuote;
import dev.jvmm.lab.junit.LabTest;
import dev.jvmm.vmm.cli.LaunchCommand;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Lab tier: inside the emulated host (L1, nested KVM), {@code jvmm launch} boots the kit's stock Debian kernel to
 * the project's initramfs {@code /init} and runs a scenario there. All tests share the one L1 of this test JVM;
 * every jvmm run is a real {@code java ... Jvmm launch} process in L1, started from this JVM's class path.
 */
@LabTest
class LaunchLabTest {
    private static final Duration BOOT_TIMEOUT = Duration.ofMinutes(5);
    /** What the guest prints about its CPUs: "JVMM-BOOT cpus=N online=LIST". */
    private static final String REPORT = "echo JVMM-BOOT cpus=$(grep -c ^processor /proc/cpuinfo)"
            + " online=$(cat /sys/devices/system/cpu/online) kernel=$(uname -r)";
    private static final Pattern REPORT_LINE = Pattern.compile("JVMM-BOOT cpus=(\\d+) online=(\\S+) kernel=(\\S+)");

    /** {@code java ... dev.jvmm.vmm.cli.Jvmm launch ARGS} as a shell command (C1 only: JIT time dominates in L1). */
    static String jvmm(List<String> args) {
        return jvmm(List.of(), args);
    }

    /** {@code jvmm launch ARGS} with extra JVM options (e.g. a log level) before the main class. */
    static String jvmm(List<String> jvmOptions, List<String> args) {
        List<String> w = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
        w.addAll(jvmOptions);
        w.addAll(List.of("-cp", Classpath.current(), "dev.jvmm.vmm.cli.Jvmm", "launch"));
        w.addAll(args);
        return ShellQuote.join(w);
    }

    static List<String> kitArgs(LabSession lab, int cpus, String script) {
        return new ArrayList<>(List.of("--kernel", lab.kit().kernel().toString(),
                "--initrd", lab.kit().initrdGuest().toString(), "--memory", "512M", "--cpus", Integer.toString(cpus),
                "--cmdline", "console=ttyS0 quiet panic=-1 " + GuestCommandLine.scriptWord(script)));
    }

    private static Matcher report(CommandResult r) {
        Matcher m = REPORT_LINE.matcher(r.output());
        assertTrue(m.find(), "the guest's /init report is missing:\n" + r.output());
        return m;
    }

    private static void assertBootedToInit(CommandResult r, LabSession lab) {
        assertTrue(InitMarkers.parse(r.output()).stream().anyMatch(m -> m.event().equals("init-start")
                && m.value("kernel").orElse("").equals(lab.kit().release())), "no init-start marker:\n" + r.output());
    }

    @Test
    void oneVcpuBootsToInitAndPoweroffExitsZero(LabSession lab) {
        CommandResult r = lab.run(jvmm(kitArgs(lab, 1, REPORT + "; poweroff -f")), BOOT_TIMEOUT);
        assertEquals(0, r.exitCode(), "jvmm exit code; output:\n" + r.output());
        assertBootedToInit(r, lab);
        Matcher m = report(r);
        assertEquals("1", m.group(1), r.output());
        assertEquals("0", m.group(2), r.output());
        assertEquals(lab.kit().release(), m.group(3));
        assertTrue(r.output().contains("jvmm: guest powered off (ACPI S5)"), r.output());
        System.err.printf("[lab] jvmm boot, 1 vCPU, to poweroff: %.1f s%n", r.duration().toMillis() / 1000.0);
    }

    @Test
    void twoVcpusAreBothOnline(LabSession lab) {
        CommandResult r = lab.run(jvmm(kitArgs(lab, 2, REPORT + "; poweroff -f")), BOOT_TIMEOUT);
        assertEquals(0, r.exitCode(), "jvmm exit code; output:\n" + r.output());
        Matcher m = report(r);
        assertEquals("2", m.group(1), "processors in /proc/cpuinfo:\n" + r.output());
        assertEquals("0-1", m.group(2), "online CPUs:\n" + r.output());
    }

    @Test
    void pvhVmlinuxBoots(LabSession lab) {
        // The stock kernel's vmlinux (extracted from the bzImage's payload) carries the PVH entry note.
        String vmlinux = "$JVMM_LAB_SCRATCH/vmlinux-pvh";
        String extract = ShellQuote.quote(Path.of("").toAbsolutePath().getParent().resolve("bench/boot/extract-vmlinux.sh")
                .toString()) + " \"$JVMM_LAB_KERNEL\" " + vmlinux;
        List<String> args = kitArgs(lab, 1, REPORT + "; poweroff -f");
        args.set(1, "VMLINUX");
        String cmd = extract + " && " + jvmm(args).replace("VMLINUX", vmlinux) + "; rc=$?; rm -f " + vmlinux
                + "; exit $rc";
        CommandResult r = lab.run(cmd, BOOT_TIMEOUT);
        assertEquals(0, r.exitCode(), "jvmm exit code; output:\n" + r.output());
        assertBootedToInit(r, lab);
        assertEquals("1", report(r).group(1));
    }

    @Test
    void rebootRequestIsHonoured(LabSession lab) {
        // --on-reboot exit (the default): the reset request ends the run with status 0.
        CommandResult r = lab.run(jvmm(kitArgs(lab, 1, "echo JVMM-BOOT rebooting; reboot -f")), BOOT_TIMEOUT);
        assertEquals(0, r.exitCode(), "jvmm exit code; output:\n" + r.output());
        assertTrue(r.output().contains("JVMM-BOOT rebooting"), r.output());
        assertTrue(r.output().contains("jvmm: guest requested a reset"), r.output());
    }

    @Test
    void rebootWithRestartBootsTheGuestAgain(LabSession lab) {
        // --on-reboot restart: the reset request builds and boots the VM again. A 1 MiB disk carries the state
        // across the reboot: boot 1 writes "boot1" to it and reboots, boot 2 finds it and powers off.
        String guest = "if [ \"$(head -c 5 /dev/vda)\" = boot1 ]; then echo JVMM-BOOT second; poweroff -f;"
                + " else printf boot1 > /dev/vda; sync; echo JVMM-BOOT first; reboot -f; fi";
        List<String> args = kitArgs(lab, 1, guest);
        args.addAll(List.of("--on-reboot", "restart", "--disk", "path=STATE"));
        String w = "$JVMM_LAB_SCRATCH/restart";
        String cmd = String.join("\n",
                "rm -rf " + w + " && mkdir -p " + w + " && truncate -s 1M " + w + "/state.img || exit 1",
                jvmm(args).replace("path=STATE", "path=\"" + w + "/state.img\"") + "; echo L1-RC $?",
                "echo L1-STATE $(head -c 5 " + w + "/state.img)",
                "rm -rf " + w);
        CommandResult r = lab.run(cmd, BOOT_TIMEOUT.multipliedBy(2)).assertOk();
        String out = r.output();
        assertTrue(out.contains("L1-RC 0"), "jvmm exit code:\n" + out);
        int first = out.indexOf("JVMM-BOOT first");
        int second = out.indexOf("JVMM-BOOT second");
        assertTrue(first >= 0 && second > first, "the guest did not boot twice:\n" + out);
        assertTrue(out.contains("restarting the VM (boot 2)"), out);
        assertTrue(out.contains("jvmm: guest powered off (ACPI S5)"), out);
        assertTrue(out.contains("L1-STATE boot1"), "the disk written in boot 1:\n" + out);
        System.err.printf("[lab] jvmm --on-reboot restart, two boots: %.1f s%n", r.duration().toMillis() / 1000.0);
    }

    @Test
    void guestPanicExitsWithCrashStatus(LabSession lab) {
        CommandResult r = lab.run(jvmm(kitArgs(lab, 1, "echo c > /proc/sysrq-trigger")), BOOT_TIMEOUT);
        assertEquals(LaunchCommand.EXIT_GUEST_CRASH, r.exitCode(), "jvmm exit code; output:\n" + r.output());
        assertTrue(r.output().contains("Error: guest kernel panic: Kernel panic - not syncing"), r.output());
    }

    @Test
    void panicWithoutASerialConsoleIsReportedByPvpanic(LabSession lab) {
        // console=tty0: the panic banner never reaches the 16550; only the guest's pvpanic driver (pvpanic-mmio,
        // bound to the DSDT's QEMU0001 device) tells jvmm.
        List<String> args = kitArgs(lab, 1, "echo c > /proc/sysrq-trigger");
        args.set(args.size() - 1, "console=tty0 panic=-1 " + GuestCommandLine.scriptWord("echo c > /proc/sysrq-trigger"));
        CommandResult r = lab.run(jvmm(args), BOOT_TIMEOUT);
        assertEquals(LaunchCommand.EXIT_GUEST_CRASH, r.exitCode(), "jvmm exit code; output:\n" + r.output());
        assertTrue(r.output().contains("Error: guest kernel panic (reported by the guest's pvpanic driver)"), r.output());
        assertFalse(r.output().contains("Kernel panic - not syncing"), "the banner was not on the serial console:\n"
                + r.output());
    }

    @Test
    void corruptKernelGivesClearErrorAndLeavesNothing(LabSession lab) {
        String dir = "$JVMM_LAB_SCRATCH/corrupt-kernel";
        String refcnt = "cat /sys/module/kvm_amd/refcnt /sys/module/kvm/refcnt | tr '\\n' ' '";
        String script = String.join("\n",
                "set -u",
                "rm -rf " + dir + " && mkdir -p " + dir + " && cd " + dir,
                "head -c 3000000 \"$JVMM_LAB_KERNEL\" > truncated.bzImage",
                "head -c 1000000 /dev/urandom > junk.img",
                "echo REFCNT-BEFORE $(" + refcnt + ")",
                "BEFORE=$(ls -A | tr '\\n' ' ')",
                jvmm(List.of("--kernel", "truncated.bzImage", "--initrd", "$JVMM_LAB_INITRD")).replace("'$JVMM_LAB_INITRD'",
                        "\"$JVMM_LAB_INITRD\"") + " > out1 2>&1; echo RC1 $?",
                jvmm(List.of("--kernel", "junk.img", "--cpus", "2")) + " > out2 2>&1; echo RC2 $?",
                "cat out1 out2",
                "echo REFCNT-AFTER $(" + refcnt + ")",
                "AFTER=$(ls -A | grep -v -x -e out1 -e out2 | tr '\\n' ' ')",
                "echo FILES-SAME $([ \"$BEFORE\" = \"$AFTER\" ] && echo yes || echo \"no: before [$BEFORE] after [$AFTER]\")",
                "echo LEFT-PROCS $(ps -eo args | grep -c '[c]li.Jvmm launch --kernel')",
                "echo LEFT-MAPS $(cat /proc/[0-9]*/maps 2>/dev/null | grep -c 'kvm-vcpu\\|anon_inode:kvm')",
                "cd / && rm -rf " + dir);
        CommandResult r = lab.run(script, BOOT_TIMEOUT).assertOk();
        String out = r.output();
        assertTrue(out.contains("RC1 1"), out);
        assertTrue(out.contains("RC2 1"), out);
        assertTrue(out.contains("Error: launch failed: truncated.bzImage: "), out);
        assertTrue(out.contains("Error: launch failed: junk.img: not a kernel image jvmm can boot"), out);
        assertFalse(out.contains("Exception"), "no stack trace without --debug:\n" + out);
        String before = line(out, "REFCNT-BEFORE");
        assertEquals(before, line(out, "REFCNT-AFTER"), "KVM module references (VMs, vCPUs) are back:\n" + out);
        assertEquals("yes", line(out, "FILES-SAME"), out);
        assertEquals("0", line(out, "LEFT-PROCS"), out);
        assertEquals("0", line(out, "LEFT-MAPS"), out);
    }

}

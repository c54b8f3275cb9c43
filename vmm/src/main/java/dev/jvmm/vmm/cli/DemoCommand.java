package dev.jvmm.vmm.cli;

import dev.jvmm.lab.Classpath;
import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.GuestCommandLine;
import dev.jvmm.lab.GuestKit;
import dev.jvmm.lab.HostPrereqs;
import dev.jvmm.lab.LabCommand;
import dev.jvmm.lab.LabConfig;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.LabSetup;
import dev.jvmm.lab.ShellQuote;
import dev.jvmm.probe.KvmSpeed;
import dev.jvmm.sys.kvm.Kvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvmm demo}: boots the lab kit's stock Debian kernel under {@code jvmm launch} with a virtio-blk disk and a
 * virtio-net NIC on a TAP, shows both working (the guest reads a file from an ext4 image and checks its sha256; it
 * pings the host end of the TAP), prints a summary and removes everything it made (image, TAP). Where this host's
 * KVM cannot run a stock kernel at a usable speed (no /dev/kvm, or an emulated one), the whole scenario runs inside
 * the lab's emulated host (docs/lab.md). Exit 0 only when both checks passed.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Boot a Linux guest with a virtio-blk disk and a virtio-net NIC, show both working, clean up.",
            "Runs in the lab (an emulated host with nested KVM) when this host's KVM cannot run Linux.",
            "Exit status: 0 both checks passed, 1 a check failed or the demo could not run."})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--where", paramLabel = "WHERE", description = "auto (default), host or lab")
    String where = "auto";
    @Option(names = "--timeout", paramLabel = "SECONDS", description = "limit for the scenario (default 600)")
    int timeout = 600;

    static final String FILE_TEXT = "hello from a jvmm virtio-blk disk";
    static final String GUEST = """
            echo DEMO-GUEST disk: $(cat /sys/block/vda/size) sectors, serial $(cat /sys/block/vda/serial)
            echo DEMO-GUEST file: "$(cat /mnt/hello.txt)"
            echo DEMO-GUEST-SHA $(sha256sum /mnt/hello.txt | cut -d' ' -f1)
            for i in /sys/class/net/*; do [ "$(cat $i/address)" = 52:54:00:12:34:56 ] && N=${i##*/}; done
            ip link set $N up && ip addr add 10.77.0.2/24 dev $N
            echo DEMO-GUEST nic: $N $(cat /sys/class/net/$N/address) driver $(basename $(readlink /sys/class/net/$N/device/driver))
            ping -c 3 -W 10 10.77.0.1 > /tmp/ping 2>&1; echo DEMO-GUEST-PING-RC $?
            sed 's/^/DEMO-GUEST ping: /' /tmp/ping | grep -E 'bytes from|received'
            umount /mnt
            """;

    @Override
    public Integer call() {
        String w = where.toLowerCase(Locale.ROOT);
        if (!w.equals("auto") && !w.equals("host") && !w.equals("lab")) {
            throw new ExitCodeException(2, "--where: \"" + where + "\" is not valid (use auto, host or lab)", null);
        }
        boolean lab = w.equals("lab") || (w.equals("auto") && !hostKvmRunsLinux());
        step("jvmm demo: virtio-blk + virtio-net with the guest's own drivers (" + (lab
                ? "in the lab: this host's KVM cannot run a stock kernel" : "on this host") + ")");
        long t0 = System.nanoTime();
        LabConfig cfg = LabConfig.fromEnvironment();
        prepareHost(() -> lab ? HostPrereqs.checkAll(cfg) : HostPrereqs.checkKit());
        CommandResult r;
        if (lab) {
            step("booting the lab's emulated host (L1, about 15 s)");
            try (LabSession s = LabSession.start(cfg, DemoCommand::step, l -> { })) {
                step("L1 ready after " + s.bootDuration().toSeconds() + " s");
                r = s.run(LabCommand.of(script(javaCommand(System.getProperty("java.home")), "$JVMM_LAB_KERNEL",
                        "$JVMM_LAB_INITRD", "$JVMM_LAB_SCRATCH/jvmm-demo")).timeout(Duration.ofSeconds(timeout))
                        .lines(DemoCommand::show));
            }
        } else {
            GuestKit.Kit kit = GuestKit.ensure(cfg, DemoCommand::step);
            String sh = script(javaCommand(System.getProperty("java.home")), ShellQuote.quote(kit.kernel().toString()),
                    ShellQuote.quote(kit.initrdGuest().toString()), "/var/tmp/jvmm-demo-" + ProcessHandle.current().pid());
            r = runLocally(sh);
        }
        return summary(r.output(), (System.nanoTime() - t0) / 1e9);
    }

    /**
     * Makes sure the host has what the demo needs. As root on Debian or Ubuntu, what is missing is installed through
     * the same code as {@code jvmm lab setup}, each step shown; otherwise the demo stops with one line that names
     * the command to run.
     */
    static void prepareHost(java.util.function.Supplier<List<HostPrereqs.Missing>> check) {
        List<HostPrereqs.Missing> missing = LabSetup.installMissing(check, LabSetup.canInstall(),
                l -> System.out.println("    " + l));
        if (!missing.isEmpty()) {
            String launcher = System.getenv().getOrDefault("JVMM_LAUNCHER", "jvmm");
            throw new ExitCodeException(ErrorHandler.EXIT_FAILURE, "the demo needs host packages that are not installed ("
                    + String.join("; ", missing.stream().map(HostPrereqs.Missing::what).toList())
                    + "); install them once as root: " + (LabSetup.canInstall() ? "" : "sudo ")
                    + launcher + " lab setup", null);
        }
    }

    /** Whether /dev/kvm exists and runs guest code at hardware speed (an emulated KVM cannot boot Linux in time). */
    static boolean hostKvmRunsLinux() {
        if (!Files.exists(Path.of(Kvm.DEV_KVM))) {
            return false;
        }
        try (Kvm kvm = Kvm.open()) {
            return KvmSpeed.measure(kvm, Duration.ofSeconds(1)).hardwareSpeed();
        } catch (RuntimeException e) {
            return false;
        }
    }

    static String javaCommand(String javaHome) {
        return ShellQuote.join(List.of(Path.of(javaHome, "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC", "-cp", Classpath.current(), "dev.jvmm.vmm.cli.LaunchCommand"));
    }

    /** The scenario as one shell script (run in L1, or here as root). Every step echoes what it does. */
    static String script(String jvmm, String kernel, String initrd, String work) {
        String guest = "mount -t ext4 /dev/vda /mnt && cp /mnt/guest.sh /tmp && sh /tmp/guest.sh";
        String cmd = jvmm + " --kernel " + kernel + " --initrd " + initrd + " --memory 512M --cmdline "
                + ShellQuote.quote("console=ttyS0 quiet panic=-1 " + GuestCommandLine.scriptWord(guest))
                + " --disk \"path=$W/disk.img,cache=none,id=jvmm-demo\" --net tap=jvmmdemo0,mac=52:54:00:12:34:56";
        return String.join("\n",
                "set -u",
                "W=" + work,
                "cleanup() { ip link del jvmmdemo0 2>/dev/null; rm -rf \"$W\"; }",
                "trap cleanup EXIT",
                "rm -rf \"$W\"; mkdir -p \"$W/fs\"",
                "echo " + ShellQuote.quote(FILE_TEXT) + " > \"$W/fs/hello.txt\"",
                "cat > \"$W/fs/guest.sh\" <<'EOF'\n" + GUEST + "EOF",
                "echo \"DEMO-STEP creating a 64 MiB ext4 image with hello.txt ($W/disk.img)\"",
                "truncate -s 64M \"$W/disk.img\" && mkfs.ext4 -q -F -d \"$W/fs\" \"$W/disk.img\" || exit 1",
                "echo DEMO-EXPECT-SHA $(sha256sum \"$W/fs/hello.txt\" | cut -d' ' -f1)",
                "echo 'DEMO-STEP creating TAP jvmmdemo0 with 10.77.0.1/24 (the host end)'",
                "ip tuntap add dev jvmmdemo0 mode tap && ip addr add 10.77.0.1/24 dev jvmmdemo0 && ip link set jvmmdemo0 up || exit 1",
                "echo 'DEMO-STEP jvmm launch --disk path=disk.img,cache=none,id=jvmm-demo --net tap=jvmmdemo0,mac=52:54:00:12:34:56 (Debian kernel, guest drivers virtio_pci, virtio_blk, virtio_net)'",
                "{ " + cmd + " 2>&1; echo DEMO-VM-RC $?; } | sed -u 's/^/DEMO-VM /'",
                "echo 'DEMO-STEP removing the image and the TAP'");
    }

    private static CommandResult runLocally(String sh) {
        long t0 = System.nanoTime();
        StringBuilder out = new StringBuilder();
        try {
            Process p = new ProcessBuilder("sh", "-c", sh).redirectErrorStream(true).start();
            try (var rd = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
                String l;
                while ((l = rd.readLine()) != null) {
                    show(l);
                    out.append(l).append('\n');
                }
            }
            int rc = p.waitFor();
            return new CommandResult(sh, rc, out.toString(), Duration.ofNanos(System.nanoTime() - t0), false);
        } catch (java.io.IOException e) {
            throw new ExitCodeException(1, "demo: cannot run the scenario: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ExitCodeException(1, "demo: interrupted", e);
        }
    }

    private static void step(String s) {
        System.out.println("==> " + s);
    }

    /** Prints a scenario line: steps as steps, the guest's lines as results, the rest indented. */
    private static void show(String l) {
        String line = l.replaceFirst("^DEMO-VM ", "");
        if (line.startsWith("DEMO-STEP ")) {
            step(line.substring(10));
        } else if (line.startsWith("DEMO-GUEST ")) {
            System.out.println("    guest: " + line.substring(11));
        } else if (line.startsWith("DEMO-GUEST-") || line.startsWith("DEMO-EXPECT") || line.startsWith("DEMO-VM-RC")) {
            return; // machine-readable, summarised below
        } else if (line.startsWith("jvmm:") || line.startsWith("Error:") || line.contains("virtio-")) {
            System.out.println("    " + line);
        }
    }

    static Integer summary(String out, double seconds) {
        String expect = find(out, "DEMO-EXPECT-SHA");
        String got = find(out, "DEMO-GUEST-SHA");
        String ping = find(out, "DEMO-GUEST-PING-RC");
        boolean disk = expect != null && expect.equals(got);
        boolean net = "0".equals(ping);
        System.out.println();
        System.out.println("==> summary");
        System.out.println("    virtio-blk: " + (disk ? "PASS" : "FAIL") + "  the guest read hello.txt from ext4 on /dev/vda, sha256 "
                + (got == null ? "(none)" : got.substring(0, Math.min(16, got.length())) + "…") + (disk ? " matches" : " expected "
                + (expect == null ? "(none)" : expect.substring(0, Math.min(16, expect.length())) + "…")));
        System.out.println("    virtio-net: " + (net ? "PASS" : "FAIL") + "  the guest pinged 10.77.0.1 (the TAP's host end)"
                + (ping == null ? ": no result" : net ? "" : ", ping exit " + ping));
        System.out.printf("    %s in %.0f s; image and TAP removed%n", disk && net ? "both checks passed" : "FAILED", seconds);
        return disk && net ? 0 : 1;
    }

    private static String find(String out, String key) {
        Matcher m = Pattern.compile("(?m)" + key + " (\\S+)").matcher(out);
        return m.find() ? m.group(1) : null;
    }
}

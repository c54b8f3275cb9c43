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
 * {@code jvmm demo}: the product in one run. It probes the host (verdicts shown), creates two VFs on the first
 * SR-IOV NIC it finds with {@code jvmm sriov}, and launches the lab kit's stock Debian kernel with three devices: a
 * NIC in mode auto on that PF (jvmm takes a VF when passthrough is ready and says why, else falls back to virtio-net
 * and says why), a virtio-net NIC on a TAP, and a virtio-blk disk. The guest shows its links with their drivers,
 * pings and sends 4 MiB over TCP on each network path, and reads a file from the disk; the demo prints each NIC's
 * choice and reason and a summary table (or JSON), then removes what it made (VFs, TAP, image). Where this host's
 * KVM cannot run a stock kernel at a usable speed (no /dev/kvm, or an emulated one), the whole scenario runs inside
 * the lab's emulated host (docs/lab.md), whose igb is the SR-IOV NIC. Exit 0 only when every check passed.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Probe, create VFs, boot a Linux guest with a VF (mode auto), a virtio-net NIC and a virtio-blk disk,",
            "show all three working, say what jvmm chose and why, clean up.",
            "Runs in the lab (an emulated host with nested KVM) when this host's KVM cannot run Linux.",
            "Exit status: 0 every check passed, 1 a check failed or the demo could not run."})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--where", paramLabel = "WHERE", description = "auto (default), host or lab")
    String where = "auto";
    @Option(names = "--timeout", paramLabel = "SECONDS", description = "limit for the scenario (default 600)")
    int timeout = 600;
    @Option(names = "--json", description = "print the summary as JSON (after the progress lines)")
    boolean json;

    static final String FILE_TEXT = "hello from a jvmm virtio-blk disk";
    /** The guest's side: links with drivers, per NIC an address, a ping and 4 MiB over TCP, then the disk. */
    static final String GUEST = """
            echo DEMO-GUEST links:
            for n in /sys/class/net/*; do N=${n##*/}; [ "$N" = lo ] && continue
              echo DEMO-GUEST "  $N driver $(basename $(readlink $n/device/driver)) $(cat $n/address)"; done
            nic() { # MAC ADDRESS PEER PORT TAG
              for i in /sys/class/net/*; do [ "$(cat $i/address)" = $1 ] && N=${i##*/}; done
              [ -z "${N:-}" ] && { echo DEMO-GUEST-$5 absent; return; }
              ip link set $N up; ip addr add $2/24 dev $N
              for i in $(seq 100); do [ "$(cat /sys/class/net/$N/carrier)" = 1 ] && break; sleep 0.1; done
              ping -c 3 -W 10 $3 > /tmp/ping 2>&1; P=$?
              echo DEMO-GUEST $N: $(grep -E 'received' /tmp/ping)
              dd if=/dev/urandom of=/tmp/blob bs=1M count=4 2>/dev/null
              /bin/tcpxfer send $3 $4 /tmp/blob > /tmp/x 2>&1; T=$?
              echo DEMO-GUEST $N: $(cat /tmp/x)
              echo DEMO-GUEST-$5 $(basename $(readlink /sys/class/net/$N/device/driver)) ping=$P tcp=$T $(sha256sum /tmp/blob | cut -d' ' -f1)
              N=
            }
            nic 52:54:00:12:34:57 10.99.0.2 10.99.0.1 5401 NIC0
            nic 52:54:00:12:34:56 10.77.0.2 10.77.0.1 5402 NIC1
            echo DEMO-GUEST disk: $(cat /sys/block/vda/size) sectors, serial $(cat /sys/block/vda/serial)
            echo DEMO-GUEST file: "$(cat /mnt/hello.txt)"
            echo DEMO-GUEST-SHA $(sha256sum /mnt/hello.txt | cut -d' ' -f1)
            umount /mnt
            """;

    @Override
    public Integer call() {
        String w = where.toLowerCase(Locale.ROOT);
        if (!w.equals("auto") && !w.equals("host") && !w.equals("lab")) {
            throw new ExitCodeException(2, "--where: \"" + where + "\" is not valid (use auto, host or lab)", null);
        }
        boolean lab = w.equals("lab") || (w.equals("auto") && !hostKvmRunsLinux());
        step("jvmm demo: a VF (mode auto), virtio-net and virtio-blk with the guest's own drivers (" + (lab
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
                        "$JVMM_LAB_INITRD", "$JVMM_LAB_KIT/bin/tcpxfer", "$JVMM_LAB_SCRATCH/jvmm-demo"))
                        .timeout(Duration.ofSeconds(timeout))
                        .lines(DemoCommand::show));
            }
        } else {
            GuestKit.Kit kit = GuestKit.ensure(cfg, DemoCommand::step);
            String sh = script(javaCommand(System.getProperty("java.home")), ShellQuote.quote(kit.kernel().toString()),
                    ShellQuote.quote(kit.initrdGuest().toString()), ShellQuote.quote(kit.helper("tcpxfer").toString()),
                    "/var/tmp/jvmm-demo-" + ProcessHandle.current().pid());
            r = runLocally(sh);
        }
        return summary(r.output(), (System.nanoTime() - t0) / 1e9, json);
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
                "-XX:+UseSerialGC", "-cp", Classpath.current(), "dev.jvmm.vmm.cli.Jvmm"));
    }

    /**
     * The scenario as one shell script (run in L1, or here as root). Every step echoes what it does; {@code jvmm}
     * is the command that runs jvmm's CLI, {@code tcpxfer} the kit's helper on this side.
     */
    static String script(String jvmm, String kernel, String initrd, String tcpxfer, String work) {
        String guest = "mount -t ext4 /dev/vda /mnt && cp /mnt/guest.sh /tmp && sh /tmp/guest.sh";
        String launch = jvmm + " launch --kernel " + kernel + " --initrd " + initrd + " --memory 512M --cmdline "
                + ShellQuote.quote("console=ttyS0 quiet panic=-1 " + GuestCommandLine.scriptWord(guest))
                + " --disk \"path=$W/disk.img,cache=none,id=jvmm-demo\" $NICS";
        return String.join("\n",
                "set -u",
                "W=" + work + "; PF=; PFN=; PEER_ADDED=; R0=; R1=",
                "cleanup() {",
                "  [ -n \"$R0\" ] && kill $R0 2>/dev/null; [ -n \"$R1\" ] && kill $R1 2>/dev/null",
                "  ip link del jvmmdemo0 2>/dev/null",
                "  [ -n \"$PEER_ADDED\" ] && ip addr del 10.99.0.1/24 dev $PFN 2>/dev/null",
                "  if [ -n \"$PF\" ]; then echo \"DEMO-STEP removing the VFs ($(" + jvmm + " sriov destroy $PF 2>&1 | tail -1))\"; fi",
                "  rm -rf \"$W\"",
                "}",
                "trap cleanup EXIT",
                "rm -rf \"$W\"; mkdir -p \"$W/fs\"",
                "echo 'DEMO-STEP probing the host (jvmm probe)'",
                jvmm + " probe --memory 512M 2>&1 | sed -n '/^VERDICTS/,$p' | grep -E '^  [a-z-]+ +(READY|NOT READY|READY WITH)' "
                        + "| sed 's/^ */DEMO-PROBE /'",
                // the first SR-IOV NIC of this host is the PF
                "for d in /sys/bus/pci/devices/*; do [ -s $d/sriov_totalvfs ] && [ \"$(cat $d/sriov_totalvfs)\" -gt 0 ] "
                        + "&& [ -d $d/net ] && { PF=${d##*/}; PFN=$(ls $d/net | head -1); break; }; done",
                "if [ -n \"$PF\" ]; then",
                "  echo \"DEMO-STEP jvmm sriov create $PF 2 --autoprobe off (SR-IOV NIC $PFN)\"",
                "  " + jvmm + " sriov create $PF 2 --autoprobe off 2>&1 | sed 's/^/    /' || PF=",
                "fi",
                "if [ -n \"$PF\" ]; then",
                "  ip link set dev $PFN up; for i in $(seq 100); do [ \"$(cat /sys/class/net/$PFN/carrier)\" = 1 ] && break; sleep 0.2; done",
                "  ip -4 addr show dev $PFN | grep -q 'inet 10.99.0.1/' || { ip addr add 10.99.0.1/24 dev $PFN && PEER_ADDED=1; }",
                "  echo \"DEMO-STEP $PFN (the PF) answers the VF's traffic at 10.99.0.1\"",
                "  NICS=\"--nic id=eth0,mode=auto,pf=$PFN,mac=52:54:00:12:34:57 \"",
                "else",
                "  echo 'DEMO-STEP this host has no SR-IOV NIC: the VF part is left out'; NICS=",
                "fi",
                "NICS=\"$NICS--nic id=eth1,mode=virtio,tap=jvmmdemo0,mac=52:54:00:12:34:56\"",
                "echo " + ShellQuote.quote(FILE_TEXT) + " > \"$W/fs/hello.txt\"",
                "cat > \"$W/fs/guest.sh\" <<'EOF'\n" + GUEST + "EOF",
                "echo \"DEMO-STEP creating a 64 MiB ext4 image with hello.txt ($W/disk.img)\"",
                "truncate -s 64M \"$W/disk.img\" && mkfs.ext4 -q -F -d \"$W/fs\" \"$W/disk.img\" || exit 1",
                "echo DEMO-EXPECT-SHA $(sha256sum \"$W/fs/hello.txt\" | cut -d' ' -f1)",
                "echo 'DEMO-STEP creating TAP jvmmdemo0 with 10.77.0.1/24 (the host end of the virtio-net NIC)'",
                "ip tuntap add dev jvmmdemo0 mode tap vnet_hdr && ip addr add 10.77.0.1/24 dev jvmmdemo0 && ip link set jvmmdemo0 up || exit 1",
                tcpxfer + " recv 5401 \"$W/r0\" 2>\"$W/r0.log\" & R0=$!",
                tcpxfer + " recv 5402 \"$W/r1\" 2>\"$W/r1.log\" & R1=$!",
                "echo \"DEMO-STEP jvmm launch --disk path=disk.img,cache=none,id=jvmm-demo $NICS (Debian kernel, the guest's own drivers)\"",
                "{ " + launch + " 2>&1; echo DEMO-VM-RC $?; } | sed -u 's/^/DEMO-VM /'",
                "sleep 1; kill $R0 $R1 2>/dev/null; wait $R0 $R1 2>/dev/null; R0=; R1=",
                "[ -s \"$W/r0\" ] && echo DEMO-HOST-NIC0 $(sha256sum \"$W/r0\" | cut -d' ' -f1)",
                "[ -s \"$W/r1\" ] && echo DEMO-HOST-NIC1 $(sha256sum \"$W/r1\" | cut -d' ' -f1)",
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
        } else if (line.startsWith("DEMO-PROBE ")) {
            System.out.println("    probe: " + line.substring(11));
        } else if (line.startsWith("DEMO-GUEST ")) {
            System.out.println("    guest: " + line.substring(11));
        } else if (line.startsWith("DEMO-GUEST-") || line.startsWith("DEMO-EXPECT") || line.startsWith("DEMO-VM-RC")
                || line.startsWith("DEMO-HOST-")) {
            return; // machine-readable, summarised below
        } else if (line.startsWith("jvmm:") || line.startsWith("Error:") || line.contains("virtio-")) {
            System.out.println("    " + line);
        }
    }

    /** One row of the summary: a device, what jvmm made of it, and whether the guest used it. */
    record Row(String device, String choice, String check, boolean pass) {
    }

    /** The rows of the summary, from the scenario's output. */
    static List<Row> rows(String out) {
        List<Row> rows = new java.util.ArrayList<>();
        String plan0 = line(out, "jvmm: eth0: "); // the plan line comes before "took VF"
        rows.add(plan0 != null ? nicRow(out, "eth0 (mode=auto)", plan0, "NIC0", "10.99.0.1")
                : new Row("eth0 (mode=auto)", "left out: no SR-IOV NIC on this host", "-", true));
        rows.add(nicRow(out, "eth1 (mode=virtio)", line(out, "jvmm: eth1: "), "NIC1", "10.77.0.1"));
        String expect = find(out, "DEMO-EXPECT-SHA");
        String got = find(out, "DEMO-GUEST-SHA");
        rows.add(new Row("disk", "virtio-blk on disk.img", "read hello.txt, sha256 "
                + (got == null ? "(none)" : got.substring(0, Math.min(12, got.length())) + "…"), expect != null && expect.equals(got)));
        return rows;
    }

    private static Row nicRow(String out, String device, String plan, String tag, String peer) {
        String g = line(out, "DEMO-GUEST-" + tag + " ");
        String host = find(out, "DEMO-HOST-" + tag);
        String[] w = g == null ? new String[0] : g.split(" ");
        boolean ping = w.length > 1 && w[1].equals("ping=0");
        boolean tcp = w.length > 3 && w[2].equals("tcp=0") && w[3].equals(host);
        String check = g == null ? "no result from the guest" : w[0] + ": ping " + peer + (ping ? " ok" : " FAILED")
                + ", 4 MiB TCP " + (tcp ? "sha256 ok" : "FAILED");
        return new Row(device, plan == null ? "(not planned)" : plan.replaceFirst("^\\S+: ", ""), check, ping && tcp);
    }

    /** The text after {@code prefix} on the first line that starts with it (past a {@code DEMO-VM } tag). */
    private static String line(String out, String prefix) {
        Matcher m = Pattern.compile("(?m)^(?:DEMO-VM )?" + Pattern.quote(prefix) + "(.*)$").matcher(out);
        return m.find() ? m.group(1).strip() : null;
    }

    static Integer summary(String out, double seconds, boolean json) {
        List<Row> rows = rows(out);
        boolean ok = rows.stream().allMatch(Row::pass) && "0".equals(find(out, "DEMO-VM-RC"));
        if (json) {
            List<Object> l = new java.util.ArrayList<>();
            for (Row r : rows) {
                java.util.Map<String, Object> d = new java.util.LinkedHashMap<>();
                d.put("device", r.device());
                d.put("choice", r.choice());
                d.put("check", r.check());
                d.put("pass", r.pass());
                l.add(d);
            }
            java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("devices", l);
            m.put("pass", ok);
            m.put("seconds", Math.round(seconds));
            System.out.println(dev.jvmm.sys.json.Json.write(m));
            return ok ? 0 : 1;
        }
        System.out.println();
        System.out.println("==> summary");
        int w0 = rows.stream().mapToInt(r -> r.device().length()).max().orElse(6);
        int w1 = rows.stream().mapToInt(r -> r.choice().length()).max().orElse(6);
        for (Row r : rows) {
            System.out.printf("    %-4s  %-" + w0 + "s  %-" + w1 + "s  %s%n", r.pass() ? "PASS" : "FAIL", r.device(),
                    r.choice(), r.check());
        }
        System.out.printf("    %s in %.0f s; VFs, TAP and image removed%n", ok ? "every check passed" : "FAILED", seconds);
        return ok ? 0 : 1;
    }

    private static String find(String out, String key) {
        Matcher m = Pattern.compile("(?m)" + key + " (\\S+)").matcher(out);
        return m.find() ? m.group(1) : null;
    }
}

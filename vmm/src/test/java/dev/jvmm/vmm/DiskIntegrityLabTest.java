package dev.jvmm.vmm;

import static dev.jvmm.vmm.LabCli.line;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.junit.LabTest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Lab tier, issue 17: what a guest's writes are worth when jvmm is killed with SIGKILL in the middle of them, for every
 * cache mode. One L2 boot with a raw disk per cache mode ({@code none}, {@code writethrough}, {@code writeback},
 * {@code unsafe}) and an ext4 disk ({@code cache=none}):
 * <ul>
 * <li>on each raw disk the guest's {@code ackwriter} (a test resource, built static) writes numbered 4 KiB blocks with
 * O_DIRECT, one at a time, printing {@code MODE ACK i} once block i's write completed and {@code MODE FLUSHED i} once
 * an fdatasync (a virtio FLUSH) after it completed, every 8 blocks;</li>
 * <li>on the ext4 disk a loop rewrites small files and syncs after each.</li>
 * </ul>
 * Once every writer has 300 acknowledged blocks and the file loop 10 syncs, L1 kills jvmm with SIGKILL. Then, on the
 * images: for {@code none} and {@code writethrough} every block acknowledged before the kill holds what was written;
 * for {@code writeback} and {@code unsafe} every block flushed before the kill (and, since SIGKILL leaves the host's
 * page cache, in practice every acknowledged one too: printed). A second boot mounts the ext4 disk (its journal
 * replays) and unmounts it, and L1's {@code e2fsck -fn} finds it clean.
 */
@LabTest
class DiskIntegrityLabTest {
    static final List<String> MODES = List.of("none", "writethrough", "writeback", "unsafe");

    static final String BOOT1 = """
            for s in /sys/block/vd*; do
              d=${s##*/}
              case $(cat $s/serial) in
                di-fs) mkdir -p /fs && mount -t ext4 /dev/$d /fs && echo G-FS-MOUNTED;;
                di-*) m=$(cat $s/serial); (/mnt/ackwriter /dev/$d 16000 8 ${m#di-}; echo G-AW-END ${m#di-} $?) &;;
              esac
            done
            i=0; while :; do i=$((i+1)); echo "file $i" > /fs/f$((i % 16)); sync; echo "FS $i"; done
            """;
    static final String BOOT2 = """
            for s in /sys/block/vd*; do
              [ "$(cat $s/serial)" = di-fs ] && mkdir -p /fs && mount -t ext4 /dev/${s##*/} /fs && echo G2-MOUNTED \
                $(cat /fs/f* | wc -l) && umount /fs && echo G2-UNMOUNTED
            done
            """;

    private static List<String> args(LabSession lab, String script, List<String> disks) {
        List<String> a = LaunchLabTest.kitArgs(lab, 1, script);
        a.addAll(disks);
        return a;
    }

    @Test
    void acknowledgedAndFlushedWritesSurviveSigkillInEveryCacheMode(LabSession lab) {
        Path ackwriter = VirtioLabTest.staticHelper("ackwriter");
        List<String> boot1 = new ArrayList<>(List.of("--disk", "path=tools.img,readonly=on"));
        for (String m : MODES) {
            boot1.addAll(List.of("--disk", "path=raw-" + m + ".img,cache=" + m + ",id=di-" + m));
        }
        boot1.addAll(List.of("--disk", "path=fs.img,cache=none,id=di-fs"));
        String mountAndRun = "mount -o ro -t ext4 /dev/vda /mnt && cp /mnt/%s /tmp/s.sh && sh /tmp/s.sh";
        StringBuilder checks = new StringBuilder();
        for (String m : MODES) {
            checks.append("A=$(grep -a -o '" + m + " ACK [0-9]*' a.log | cut -d' ' -f3 | sort -n | tail -1); "
                    + "F=$(grep -a -o '" + m + " FLUSHED [0-9]*' a.log | cut -d' ' -f3 | sort -n | tail -1); "
                    + "echo DI " + m + " acked=$A flushed=$F acked-check=$(./ackwriter --check raw-" + m
                    + ".img $A) flushed-check=$(./ackwriter --check raw-" + m + ".img $F)\n");
        }
        String waitAll = "end=$(( $(date +%s) + 900 )); while [ $(date +%s) -lt $end ]; do least=$(for m in "
                + String.join(" ", MODES) + "; do grep -a -c \"$m ACK\" a.log; done | sort -n | head -1); "
                + "[ \"$least\" -ge 300 ] && [ $(grep -a -c '^FS ' a.log) -ge 10 ] && break; sleep 0.3; done; "
                + "echo WAITED least=$least fs=$(grep -a -c '^FS ' a.log)";
        CommandResult r = lab.run(String.join("\n",
                "set -u; W=$JVMM_LAB_SCRATCH/disk-integrity; rm -rf $W; mkdir -p $W/fs && cd $W",
                "cp " + ackwriter + " fs/ackwriter && cp fs/ackwriter .",
                "cat > fs/boot1.sh <<'EOF'\n" + BOOT1 + "EOF",
                "cat > fs/boot2.sh <<'EOF'\n" + BOOT2 + "EOF",
                "truncate -s 32M tools.img && mkfs.ext4 -q -F -d fs tools.img",
                "for m in " + String.join(" ", MODES) + "; do truncate -s 64M raw-$m.img; done",
                "truncate -s 64M fs.img && mkfs.ext4 -q -F fs.img",
                LaunchLabTest.jvmm(args(lab, String.format(mountAndRun, "boot1.sh"), boot1))
                        + " > a.log 2>&1 & VA=$!",
                waitAll,
                "kill -9 $VA; wait $VA; echo KILLED rc=$?",
                checks.toString().strip(),
                "echo FS-SYNCS $(grep -a -c '^FS ' a.log)",
                LaunchLabTest.jvmm(args(lab, String.format(mountAndRun, "boot2.sh"),
                        List.of("--disk", "path=tools.img,readonly=on", "--disk", "path=fs.img,cache=none,id=di-fs")))
                        + " > b.log 2>&1; echo BOOT2 rc=$?",
                "echo G2 $(grep -a -o 'G2-[A-Z]*' b.log | tr '\\n' ' ')",
                "e2fsck -fn fs.img > fsck.txt 2>&1; echo FSCK rc=$?; tail -3 fsck.txt",
                "grep -a -E 'G-|Error|Exception|WARN' a.log | head -20; tail -5 b.log",
                "cd /; rm -rf $W"), Duration.ofMinutes(25));
        String out = r.output();
        System.out.println("[disk-integrity]\n" + out);
        assertTrue(line(out, "WAITED").matches("least=\\d{3,} fs=\\d+"), out);
        assertEquals("rc=137", line(out, "KILLED"), "jvmm died of SIGKILL:\n" + out);
        Pattern di = Pattern.compile("acked=(\\d+) flushed=(\\d+) acked-check=(\\S+) flushed-check=(\\S+)");
        for (String m : MODES) {
            Matcher x = di.matcher(line(out, "DI " + m));
            assertTrue(x.find(), m + ":\n" + out);
            assertTrue(Long.parseLong(x.group(1)) >= 300 && Long.parseLong(x.group(2)) >= 280, m + ":\n" + out);
            assertEquals("ok", x.group(4), "cache=" + m + ": a block flushed before the kill is not on the image:\n"
                    + out);
            if (m.equals("none") || m.equals("writethrough")) {
                assertEquals("ok", x.group(3), "cache=" + m + ": a write acknowledged before the kill is not on the "
                        + "image:\n" + out);
            }
            System.out.printf("[disk-integrity] cache=%s: %s blocks acknowledged (%s on the image), %s flushed (%s)%n",
                    m, x.group(1), x.group(3), x.group(2), x.group(4));
        }
        assertTrue(Long.parseLong(line(out, "FS-SYNCS")) >= 10, out);
        assertEquals("rc=0", line(out, "BOOT2"), out);
        assertTrue(line(out, "G2").startsWith("G2-MOUNTED G2-UNMOUNTED"), "the second boot mounted the ext4 disk "
                + "(its journal replayed) and unmounted it:\n" + out);
        assertTrue(line(out, "FSCK").startsWith("rc=0"), "the filesystem is clean after the kill and a boot:\n" + out);
    }
}

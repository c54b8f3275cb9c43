package dev.jvmm.vmm;

import static dev.jvmm.vmm.LabCli.jvmm;
import static dev.jvmm.vmm.LabCli.line;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.GuestCommandLine;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.junit.LabTest;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Lab tier, issue 15: snapshot and restore of a running guest (the kit's Debian kernel, its own virtio drivers). The
 * guest counts in a loop, writing each count to its console and to a file on its virtio disk, and pings L1 through
 * its virtio-net NIC. {@code jvmm remote snapshot} pauses it and writes the snapshot; the source jvmm is killed with
 * SIGKILL; {@code jvmm launch --restore DIR,resume=on} brings the VM back in a new process: the count goes on from
 * where it was, the pings go through the re-created TAP, and after a shutdown the disk fscks clean and holds the last
 * count. A snapshot whose state file is damaged is refused, naming the checksum.
 */
@LabTest
class SnapshotLabTest {
    @Test
    void snapshotKillRestore(LabSession lab) {
        String guest = """
                ip link set dev eth0 up; ip addr add 10.96.0.2/24 dev eth0
                i=0; while :; do i=$((i+1)); echo COUNT $i; echo $i > /mnt/count.txt; sync
                ping -c 1 -W 2 10.96.0.1 > /dev/null 2>&1 && echo PING-OK $i; sleep 0.3; done
                """;
        String launch = jvmm("launch", "--kernel", lab.kit().kernel().toString(), "--initrd",
                lab.kit().initrdGuest().toString(), "--memory", "256M", "--disk", "path=d1.img",
                "--net", "tap=jsn0,mac=52:54:00:00:15:51", "--api-socket", "API_SOCKET", "--cmdline",
                "console=ttyS0 panic=-1 net.ifnames=0 " + GuestCommandLine.scriptWord(
                        "mount -t ext4 /dev/vda /mnt && sh /mnt/guest.sh")).replace("API_SOCKET", "\"$S\"");
        String restore = jvmm("launch", "--restore", "SNAP,resume=on", "--api-socket", "API_SOCKET")
                .replace("SNAP", "$W/snap").replace("API_SOCKET", "\"$S\"");
        String remote = LabCli.remote("--api-socket", "API_SOCKET").replace("API_SOCKET", "\"$S\"");
        CommandResult r = lab.run(String.join("\n",
                "set -u; W=$JVMM_LAB_SCRATCH/snap-e2e; rm -rf $W; mkdir -p $W/fs && cd $W; S=$W/api.sock",
                "cat > fs/guest.sh <<'EOF'\n" + guest + "EOF",
                "truncate -s 64M d1.img && mkfs.ext4 -q -F -d fs d1.img",
                "w() { for i in $(seq $(( $3 * 5 ))); do grep -q \"$2\" $1 && return 0; sleep 0.2; done; "
                        + "echo \"TIMEOUT waiting for $2 in $1\"; tail -30 $1; return 1; }",
                "sock() { for i in $(seq 3000); do [ -S $S ] && return 0; sleep 0.2; done; echo 'TIMEOUT: no socket'; return 1; }",
                "tapup() { for i in $(seq 300); do ip link show jsn0 > /dev/null 2>&1 && break; sleep 0.2; done; "
                        + "ip addr add 10.96.0.1/24 dev jsn0; ip link set jsn0 up; }",
                launch + " > con1.log 2>&1 & VM=$!",
                "tapup; w con1.log 'PING-OK 3' 900 && sock || { kill $VM; exit 1; }",
                "echo SNAPSHOT $(" + remote + " snapshot destination=$W/snap | tr -d ' \\n'; echo rc=$?)",
                "sleep 2; C1=$(grep -o 'COUNT [0-9]*' con1.log | tail -1 | cut -d' ' -f2)",
                "sleep 2; C1B=$(grep -o 'COUNT [0-9]*' con1.log | tail -1 | cut -d' ' -f2); echo PAUSED-COUNT $C1 $C1B",
                "kill -9 $VM; wait $VM; echo KILLED rc=$?",
                "echo FILES $(cd snap && stat -c '%n:%a' config.json state.bin memory.bin | tr '\\n' ' ')",
                "echo MEMORY $(stat -c %s snap/memory.bin) $(( $(stat -c %b snap/memory.bin) * $(stat -c %B snap/memory.bin) ))",
                // a damaged state is refused before anything is built
                "cp -r snap bad && printf 'X' | dd of=bad/state.bin bs=1 seek=100 conv=notrunc 2>/dev/null",
                jvmm("launch", "--restore", "bad,resume=on") + " > bad.log 2>&1; echo BAD-RC $? $(grep -o 'checksum.*' bad.log | head -1)",
                "rm -f $S; T0=$(date +%s%N)",
                restore + " > con2.log 2>&1 & VM2=$!",
                "tapup; w con2.log 'PING-OK' 600 || { kill $VM2; exit 1; }",
                "echo RESTORED-IN-MS $(( ($(date +%s%N) - T0) / 1000000 ))",
                "C2=$(grep -o 'COUNT [0-9]*' con2.log | head -1 | cut -d' ' -f2); echo RESUMED-COUNT $C1 $C2",
                "w con2.log \"PING-OK $((C2 + 3))\" 300; sock",
                "echo INFO $(" + remote + " info | tr -d ' \\n' | grep -o '\"state\":\"[a-z]*\"')",
                "echo SHUTDOWN $(" + remote + " shutdown timeout=120; echo rc=$?)",
                "wait $VM2; echo RESTORE-RC $?",
                "CL=$(grep -o 'COUNT [0-9]*' con2.log | tail -1 | cut -d' ' -f2)",
                "e2fsck -fn d1.img > fsck.txt 2>&1; echo FSCK rc=$?",
                "echo DISK-COUNT $(debugfs -R 'cat /count.txt' d1.img 2>/dev/null) LAST $CL",
                "grep -E 'jvmm:|WARN|ERROR|snapshot|restored' con1.log con2.log | head -20; cat bad.log | head -5",
                "cd /; rm -rf $W"), Duration.ofMinutes(25));
        String out = r.output();
        System.out.println("[snapshot-e2e]\n" + out);
        String snap = line(out, "SNAPSHOT");
        assertTrue(snap.endsWith("rc=0") && snap.contains("\"paused\":true") && snap.contains("\"memory_bytes\":268435456"),
                out);
        String[] paused = line(out, "PAUSED-COUNT").split(" ");
        assertEquals(paused[0], paused[1], "the snapshot left the VM paused: the count stopped\n" + out);
        assertEquals("config.json:600 state.bin:600 memory.bin:600", line(out, "FILES"), out);
        String[] mem = line(out, "MEMORY").split(" ");
        assertEquals(256L << 20, Long.parseLong(mem[0]), out);
        assertTrue(Long.parseLong(mem[1]) < Long.parseLong(mem[0]), "memory.bin is sparse (zero pages are holes):\n" + out);
        assertTrue(line(out, "BAD-RC").matches("2 checksum.*"), "a damaged state file is refused:\n" + out);
        String[] counts = line(out, "RESUMED-COUNT").split(" ");
        long c1 = Long.parseLong(counts[0]), c2 = Long.parseLong(counts[1]);
        assertTrue(c2 > c1 && c2 <= c1 + 2, "the count goes on from where the snapshot left it (" + c1 + " -> " + c2
                + "):\n" + out);
        assertEquals("\"state\":\"running\"", line(out, "INFO"), out);
        assertEquals("rc=0", line(out, "SHUTDOWN"), out);
        assertEquals("0", line(out, "RESTORE-RC"), out);
        assertEquals("rc=0", line(out, "FSCK"), "the disk is clean after snapshot, kill -9 and restore:\n" + out);
        Matcher disk = Pattern.compile("(\\d+) LAST (\\d+)").matcher(line(out, "DISK-COUNT"));
        assertTrue(disk.matches() && Long.parseLong(disk.group(1)) >= Long.parseLong(disk.group(2)) - 1
                && Long.parseLong(disk.group(1)) > c1, "the disk holds the restored guest's last counts:\n" + out);
        System.out.println("[snapshot-e2e] restore to the first ping: " + line(out, "RESTORED-IN-MS") + " ms (L1, TCG)");
    }
}

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
 * Lab tier, issue 15: snapshot, restore and live migration of one guest (the kit's Debian kernel with its own virtio
 * drivers) through four jvmm processes in one L1. The guest appends numbered lines to a file on its virtio disk (with
 * sync) and prints a tick count; its NIC's TAP is in an L1 bridge, as each destination's is.
 * <ol>
 * <li>A is snapshotted ({@code jvmm remote snapshot}: paused, files 0600, RAM sparse), killed with SIGKILL, and
 * restored as A2 ({@code --restore DIR,resume=on}): the count goes on from where it stopped. A damaged state file is
 * refused naming the checksum.</li>
 * <li>Hostile cases, each leaving A2 running: a destination that drops the connection mid-way; a guest that dirties
 * 160 MiB in a loop, which cannot fit {@code downtime_ms=1}: the migration ends at {@code timeout}, naming why, and the
 * destination exits with the source's reason. (Streams that are not jvmm's, of another version or truncated are fed
 * to {@code --incoming} by IncomingLaunchTest, on the host: they are refused before any VM exists.)</li>
 * <li>UDP sequence streams run both ways while A2 migrates to B over a unix socket, and B to C over TCP on loopback;
 * each source exits 0 with the figures.</li>
 * </ol>
 * The disk is a qcow2 image made by {@code qemu-img convert} (its free space unallocated, so the guest's appends
 * allocate clusters while it migrates: each destination opens the file early and reloads its metadata once the
 * source has paused and flushed). At the end the streams report what they lost and their longest gap, the guest
 * pings, the file is whole (lines 1..N), the image passes {@code qemu-img check} and the disk fscks clean after C's
 * shutdown. vhost-net serves the NIC of A, A2, B and C (L1 has /dev/vhost-net), so
 * the migrations run with vhost's dirty log.
 */
@LabTest
class MigrationLabTest {
    @Test
    void snapshotRestoreAndLiveMigration(LabSession lab) {
        String guest = """
                ip link set dev eth0 up; ip addr add 10.97.0.2/24 dev eth0
                for i in $(seq 100); do [ "$(cat /sys/class/net/eth0/carrier)" = 1 ] && break; sleep 0.1; done
                (i=0; while :; do i=$((i+1)); echo $i >> /mnt/lines.txt; sync; echo COUNT $i; sleep 0.3; done) &
                echo GUEST-READY
                nc -l -p 7001 > /dev/null
                mkdir -p /t && mount -t tmpfs -o size=200m tmpfs /t
                (while [ ! -e /tmp/calm ]; do dd if=/dev/zero of=/t/x bs=1M count=160 conv=notrunc 2>/dev/null; done) &
                echo GUEST-DIRTYING
                nc -l -p 7002 > /dev/null; touch /tmp/calm; wait $!; rm /t/x; echo GUEST-CALM
                nc -l -p 7000 > /dev/null
                /mnt/udpseq send 10.97.0.1 5601 20000 150 2> /tmp/s.txt &
                /mnt/udpseq recv 5602 170 > /tmp/r.txt
                echo GUEST-RECV $(cat /tmp/r.txt)
                ping -c 2 -W 5 10.97.0.1 > /dev/null 2>&1; echo GUEST-PING rc=$?
                echo GUEST-DONE
                sleep 3600
                """;
        String launchA = jvmm("launch", "--kernel", lab.kit().kernel().toString(), "--initrd",
                lab.kit().initrdGuest().toString(), "--memory", "256M", "--disk", "path=d1.qcow2",
                "--net", "tap=jmg0,mac=52:54:00:00:16:01", "--api-socket", "@SA@", "--cmdline",
                "console=ttyS0 panic=-1 " + GuestCommandLine.scriptWord("mount -t ext4 /dev/vda /mnt && sh /mnt/guest.sh"))
                .replace("@SA@", "$W/a.sock");
        String restoreA = jvmm("launch", "--restore", "@SNAP@,resume=on", "--net", "tap=jmg9", "--api-socket", "@SA@")
                .replace("@SNAP@", "$W/snap").replace("@SA@", "$W/a.sock");
        String restoreBad = jvmm("launch", "--restore", "@BAD@,resume=on").replace("@BAD@", "$W/bad");
        String incomingB = jvmm("launch", "--incoming", "unix:@MIGB@", "--net", "tap=jmg1", "--api-socket", "@SB@")
                .replace("@MIGB@", "$W/mig-b.sock").replace("@SB@", "$W/b.sock");
        String incomingC = jvmm("launch", "--incoming", "tcp:127.0.0.1:4717", "--net", "tap=jmg2", "--api-socket", "@SC@")
                .replace("@SC@", "$W/c.sock");
        String remoteA = LabCli.remote("--api-socket", "@SA@").replace("@SA@", "$W/a.sock");
        String remoteB = LabCli.remote("--api-socket", "@SB@").replace("@SB@", "$W/b.sock");
        String remoteC = LabCli.remote("--api-socket", "@SC@").replace("@SC@", "$W/c.sock");
        String py = "/usr/bin/python3 -c ";
        // go PORT: the guest's "nc -l -p PORT" returns
        String go = py + "'import socket,sys; socket.create_connection((\"10.97.0.2\", int(sys.argv[1])), 30).sendall(b\"go\")' ";
        String incomingD = jvmm("launch", "--incoming", "unix:@MIGD@", "--net", "tap=jmg8")
                .replace("@MIGD@", "$W/mig-d.sock");
        // a TLS destination whose CA did not sign the source's certificate (nor the source's its)
        String incomingT = jvmm("launch", "--incoming", "tcp:127.0.0.1:4718,tls-dir=@TD@", "--net", "tap=jmg7")
                .replace("@TD@", "$W/pki/dst");
        String fakeDest = py + "'import socket,sys\n"
                + "l=socket.socket(socket.AF_UNIX); l.bind(sys.argv[1]); l.listen(1); l.settimeout(300); c,_=l.accept()\n"
                + "c.recv(65536); c.sendall(bytes.fromhex(\"00000065\")); n=0\n"
                + "while n < 8<<20:\n d=c.recv(1<<20)\n if not d: break\n n+=len(d)\n"
                + "print(\"FAKE-GOT\", n); c.close()' ";
        CommandResult r = lab.run(String.join("\n",
                "set -u; K=" + lab.kit().dir() + "; W=$JVMM_LAB_SCRATCH/mig-e2e; rm -rf $W; mkdir -p $W/fs && cd $W",
                "cat > fs/guest.sh <<'EOF'\n" + guest + "EOF",
                "cp $K/bin/udpseq fs/ && cp $K/bin/udpseq . && truncate -s 64M d1.img && mkfs.ext4 -q -F -d fs d1.img"
                        + " && qemu-img convert -O qcow2 d1.img d1.qcow2 && rm d1.img",
                // bounded waits, by the clock: for a line in a log, a file, a process's end (its status)
                "w() { local end=$(( $(date +%s) + $3 )); while [ $(date +%s) -lt $end ]; do grep -q \"$2\" $1 && return 0; "
                        + "sleep 0.3; done; echo \"TIMEOUT waiting for $2 in $1\"; tail -30 $1; return 1; }",
                "waitfile() { local end=$(( $(date +%s) + 600 )); while [ $(date +%s) -lt $end ]; do [ -e $1 ] && return 0; "
                        + "sleep 0.3; done; echo \"TIMEOUT: no $1\"; return 1; }",
                "reap() { local end=$(( $(date +%s) + $2 )); while [ $(date +%s) -lt $end ]; do kill -0 $1 2>/dev/null || "
                        + "break; sleep 0.5; done; kill -0 $1 2>/dev/null && { echo \"TIMEOUT: pid $1 still runs\"; kill -9 $1; }; "
                        + "wait $1; }",
                "count() { grep -o 'COUNT [0-9]*' $1 | tail -1 | cut -d' ' -f2; }",
                "ip link set lo up", // L1 comes up without loopback; the TCP leg is on 127.0.0.1
                "ip link add brm type bridge; ip addr add 10.97.0.1/24 dev brm; ip link set brm up",
                "intobr() { local end=$(( $(date +%s) + 600 )); while [ $(date +%s) -lt $end ]; do ip link show $1 > /dev/null "
                        + "2>&1 && break; sleep 0.3; done; ip link set $1 master brm; ip link set $1 up; }",
                launchA + " > a.log 2>&1 & VA=$!",
                "intobr jmg0; w a.log GUEST-READY 900 && waitfile $W/a.sock || { kill $VA; exit 1; }",
                // 1. snapshot, SIGKILL, restore
                "echo SNAPSHOT $(" + remoteA + " snapshot destination=$W/snap | tr -d ' \\n'; echo rc=$?)",
                "sleep 2; C1=$(count a.log); sleep 2; echo PAUSED-COUNT $C1 $(count a.log)",
                "kill -9 $VA; reap $VA 30; echo KILLED rc=$?",
                "echo FILES $(cd snap && stat -c '%n:%a' config.json state.bin memory.bin | tr '\\n' ' ')",
                "echo MEMORY $(stat -c %s snap/memory.bin) $(( $(stat -c %b snap/memory.bin) * $(stat -c %B snap/memory.bin) ))",
                "cp -r snap bad && printf 'X' | dd of=bad/state.bin bs=1 seek=100 conv=notrunc 2>/dev/null",
                restoreBad + " > bad.log 2>&1; echo BAD-RC $? $(grep -o 'checksum.*' bad.log | head -1)",
                "rm -f $W/a.sock; " + restoreA + " > a2.log 2>&1 & VA=$!",
                "intobr jmg9; w a2.log COUNT 600 && waitfile $W/a.sock || { kill $VA; exit 1; }",
                "echo RESUMED-COUNT $C1 $(grep -o 'COUNT [0-9]*' a2.log | head -1 | cut -d' ' -f2)",
                // 2. hostile: a destination that drops the connection mid-way
                fakeDest + "$W/fake.sock & FK=$!; waitfile $W/fake.sock",
                "echo DROPPED $(timeout 300 " + remoteA + " send-migration destination=unix:$W/fake.sock 2>&1; echo rc=$?)",
                "reap $FK 60; echo AFTER-DROP $(" + remoteA + " info | tr -d ' \\n' | grep -o '\"state\":\"[a-z]*\"') "
                        + "$(C0=$(count a2.log); sleep 2; [ $(count a2.log) -gt $C0 ] && echo counting)",
                // (streams that are not a jvmm migration, of another version or truncated: IncomingLaunchTest)
                // a guest that dirties 160 MiB over and over cannot fit downtime_ms=1: the migration ends at
                // timeout_s, the destination exits with the source's reason, the source runs on
                incomingD + " > d.log 2>&1 & VD=$!; waitfile $W/mig-d.sock",
                go + "7001; w a2.log GUEST-DIRTYING 120",
                "echo MIGRATE-DIRTY $(timeout 300 " + remoteA + " send-migration destination=unix:$W/mig-d.sock "
                        + "downtime_ms=1 timeout=10 2>&1; echo rc=$?)",
                "reap $VD 120; echo DEST-D rc=$? $(grep -o 'Error: .*' d.log | head -1)",
                "echo AFTER-DIRTY $(" + remoteA + " info | tr -d ' \\n' | grep -o '\"state\":\"[a-z]*\"')",
                // (the dirtier starves the guest's counter of its one vCPU: it is looked at once the loop stopped)
                go + "7002; w a2.log GUEST-CALM 300",
                "echo CALM $(C0=$(count a2.log); sleep 3; [ $(count a2.log) -gt $C0 ] && echo counting)",
                // a TLS peer whose certificate the other side does not trust (two CAs; each host trusts its own)
                "mkdir -p pki && cd pki && for ca in good other; do openssl genpkey -algorithm EC -pkeyopt "
                        + "ec_paramgen_curve:P-256 -out $ca.key && openssl req -x509 -new -key $ca.key -subj /CN=$ca "
                        + "-days 2 -out $ca.pem; done 2>/dev/null",
                "host() { mkdir -p $1 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1/key.pem "
                        + "&& openssl req -new -key $1/key.pem -subj /CN=$1 -out $1/req.csr && printf 'basicConstraints="
                        + "CA:FALSE\\nkeyUsage=digitalSignature\\nextendedKeyUsage=serverAuth,clientAuth\\n' > $1/ext.cnf "
                        + "&& openssl x509 -req -in $1/req.csr -CA $2.pem -CAkey $2.key -set_serial $3 -days 2 -extfile "
                        + "$1/ext.cnf -out $1/cert.pem && cp $4.pem $1/ca.pem; } 2>/dev/null",
                "host src good 2 good; host dst other 3 other; cd $W; echo PKI $(ls pki/src pki/dst | grep -c pem)",
                incomingT + " > t.log 2>&1 & VT=$!; w t.log 'waiting for an incoming migration' 300",
                "echo MIGRATE-TLS $(timeout 300 " + remoteA + " send-migration destination=tcp:127.0.0.1:4718 "
                        + "tls-dir=$W/pki/src 2>&1; echo rc=$?)",
                "reap $VT 120; echo DEST-T rc=$? $(grep -o 'Error: .*' t.log | head -1)",
                "echo AFTER-TLS $(" + remoteA + " info | tr -d ' \\n' | grep -o '\"state\":\"[a-z]*\"') "
                        + "$(C0=$(count a2.log); sleep 2; [ $(count a2.log) -gt $C0 ] && echo counting)",
                // 3. A2 -> B over a unix socket, B -> C over TCP, while UDP streams run both ways
                incomingB + " > b.log 2>&1 & VB=$!; waitfile $W/mig-b.sock",
                "./udpseq recv 5601 200 > l1recv.txt & RCV=$!",
                go + "7000",
                "sleep 5; ./udpseq send 10.97.0.2 5602 20000 140 2> l1send.txt &",
                "sleep 10; (intobr jmg1) & echo MIGRATE-AB $(timeout 600 " + remoteA + " send-migration "
                        + "destination=unix:$W/mig-b.sock downtime_ms=300 > ab.json; echo rc=$? $(tr -d ' \\n' < ab.json))",
                "reap $VA 120; echo SOURCE-A rc=$?; w b.log COUNT 120; waitfile $W/b.sock",
                "echo INFO-B $(" + remoteB + " info | tr -d ' \\n' | grep -o '\"state\":\"[a-z]*\"')",
                incomingC + " > c.log 2>&1 & VC=$!; w c.log 'waiting for an incoming migration' 300",
                "(intobr jmg2) & echo MIGRATE-BC $(timeout 600 " + remoteB + " send-migration destination=tcp:127.0.0.1:4717 "
                        + "downtime_ms=300 > bc.json; echo rc=$? $(tr -d ' \\n' < bc.json))",
                "reap $VB 120; echo SOURCE-B rc=$?; w \"b.log c.log\" GUEST-DONE 600; waitfile $W/c.sock",
                "reap $RCV 300; echo L1-RECV $(cat l1recv.txt)",
                "echo SHUTDOWN $(" + remoteC + " shutdown timeout=120; echo rc=$?)",
                "reap $VC 300; echo DEST-C rc=$? $(grep -c 'jvmm: guest powered off' c.log)",
                "qemu-img check d1.qcow2 > qcheck.txt 2>&1; echo QCHECK rc=$?; cat qcheck.txt",
                "qemu-img convert -O raw d1.qcow2 d1.img && e2fsck -fn d1.img > fsck.txt 2>&1; echo FSCK rc=$?",
                "debugfs -R 'cat /lines.txt' d1.img 2>/dev/null > lines.txt; echo LINES $(wc -l < lines.txt) "
                        + "$(awk 'NR != $1 {bad++} END {print bad+0}' lines.txt)",
                "grep -h 'GUEST-' a.log a2.log b.log c.log | grep -v COUNT",
                "echo VHOST $(for f in a.log a2.log b.log c.log; do grep -q 'vhost-net serves' $f && echo $f; done)",
                "grep -h -E 'jvmm:|migrat|snapshot|WARN|ERROR|Error|Exception' a.log a2.log b.log c.log | grep -v COUNT "
                        + "| head -60",
                "for f in b.log c.log; do echo \"== tail of $f\"; grep -v COUNT $f | tail -15; done",
                "ip link del brm; cd /; rm -rf $W"), Duration.ofMinutes(40));
        String out = r.output();
        System.out.println("[migration-e2e]\n" + out);
        // 1. snapshot and restore
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
        // 2. hostile cases
        assertTrue(line(out, "DROPPED").matches(".*failed.*the VM goes on here.*rc=1"), out);
        assertEquals("\"state\":\"running\" counting", line(out, "AFTER-DROP"),
                "the source runs on after a dropped destination:\n" + out);
        String dirty = line(out, "MIGRATE-DIRTY");
        System.out.println("[migration-e2e] a guest dirtying 160 MiB in a loop, downtime_ms=1 timeout=10: " + dirty);
        assertTrue(dirty.matches(".*did not converge within 10 s.*the VM goes on here.*rc=1"), out);
        assertTrue(line(out, "DEST-D").matches("rc=1 Error: incoming migration.*"), "the destination exits with the "
                + "source's reason:\n" + out);
        assertEquals("\"state\":\"running\"", line(out, "AFTER-DIRTY"),
                "the source runs on after a migration that did not converge:\n" + out);
        assertEquals("counting", line(out, "CALM"), "and its guest with it:\n" + out);
        assertEquals("6", line(out, "PKI"), "two tls-dirs of three PEM files each:\n" + out);
        String tls = line(out, "MIGRATE-TLS");
        System.out.println("[migration-e2e] a TLS destination that does not trust the source's CA: " + tls);
        assertTrue(tls.matches(".*TLS handshake with 127\\.0\\.0\\.1:4718 failed: the peer.*certificate.*the VM goes on "
                + "here.*rc=1"), out);
        assertTrue(line(out, "DEST-T").matches("rc=[1-9]\\d* Error: .*TLS handshake with .* failed: the peer.*"),
                "the destination refuses it too, and exits:\n" + out);
        assertEquals("\"state\":\"running\" counting", line(out, "AFTER-TLS"),
                "the source runs on after a TLS peer it does not trust:\n" + out);
        // 3. two live migrations
        String ab = line(out, "MIGRATE-AB");
        assertTrue(ab.startsWith("rc=0 ") && ab.contains("\"downtime_ms\":"), out);
        assertEquals("rc=0", line(out, "SOURCE-A"), out);
        assertEquals("\"state\":\"running\"", line(out, "INFO-B"), out);
        assertTrue(line(out, "MIGRATE-BC").startsWith("rc=0 "), out);
        assertEquals("rc=0", line(out, "SOURCE-B"), "B, itself an incoming VM, exits 0 once C runs:\n" + out);
        Matcher toL1 = UDP.matcher(line(out, "L1-RECV"));
        Matcher toGuest = UDP.matcher(line(out, "GUEST-RECV"));
        assertTrue(toL1.find() && toGuest.find(), out);
        System.out.printf("[migration-e2e] two migrations: guest->L1 lost %s of %s, longest gap %s ms; L1->guest lost %s"
                + " of %s, longest gap %s ms (the guest's clock)%n", toL1.group(3), toL1.group(2), toL1.group(4),
                toGuest.group(3), toGuest.group(2), toGuest.group(4));
        System.out.println("[migration-e2e] A2->B " + ab + "\n[migration-e2e] B->C " + line(out, "MIGRATE-BC"));
        assertTrue(Long.parseLong(toL1.group(1)) > 0 && Long.parseLong(toGuest.group(1)) > 0, out);
        assertEquals("rc=0", line(out, "GUEST-PING"), "the guest's NIC works after two migrations:\n" + out);
        assertEquals("rc=0", line(out, "SHUTDOWN"), out);
        assertEquals("rc=0 1", line(out, "DEST-C"), "C powered off when its guest did, exit 0:\n" + out);
        assertEquals("rc=0", line(out, "QCHECK"), "the qcow2 disk, written by A, A2, B and C in turn:\n" + out);
        assertEquals("rc=0", line(out, "FSCK"), out);
        assertEquals("a.log a2.log b.log c.log", line(out, "VHOST"), "vhost-net served the NIC of the VM launched, "
                + "of the one restored from its snapshot and of both migrations' destinations (vhost=auto; L1 has "
                + "/dev/vhost-net), so the dirty logging of the two live migrations was vhost's:\n" + out);
        String[] lines = line(out, "LINES").split(" ");
        assertTrue(Long.parseLong(lines[0]) > 100 && lines[1].equals("0"), "the file is whole (1..N, no line lost):\n"
                + out);
    }

    private static final Pattern UDP = Pattern.compile("received (\\d+) of (\\d+) sent, lost (\\d+), duplicates \\d+, "
            + "reordered \\d+, longest gap ([0-9.]+) ms");
}

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
 * Lab tier, issue 15: live migration between jvmm processes in one L1, the guest running the kit's kernel with its
 * own virtio drivers. The guest appends numbered lines to a file on its virtio disk (with sync) and sends a UDP
 * sequence stream to L1 while L1 sends one to it; its NIC's TAP is in an L1 bridge, as is the destination's. The VM
 * migrates over a unix socket (A to B), then over TCP on loopback with mutual TLS (B to C). Before that, hostile
 * cases each leave the source running: a destination that drops the connection mid-way, a TLS destination whose
 * CA does not trust the source, and streams fed to {@code --incoming} that are not jvmm's, of another version, or
 * truncated. After it: the source exited 0 each time, the UDP streams went on (lost datagrams and the longest gap
 * reported), the file on the disk is whole and the disk fscks clean.
 */
@LabTest
class MigrationLabTest {
    @Test
    void liveMigrationOverUnixAndTlsWithHostileCases(LabSession lab) {
        String guest = """
                ip link set dev eth0 up; ip addr add 10.97.0.2/24 dev eth0
                for i in $(seq 100); do [ "$(cat /sys/class/net/eth0/carrier)" = 1 ] && break; sleep 0.1; done
                (i=0; while :; do i=$((i+1)); echo $i >> /mnt/lines.txt; sync; echo TICK $i; sleep 0.3; done) &
                echo GUEST-READY
                nc -l -p 7000 > /dev/null
                /mnt/udpseq send 10.97.0.1 5601 20000 150 2> /tmp/s.txt &
                /mnt/udpseq recv 5602 170 > /tmp/r.txt
                echo GUEST-RECV $(cat /tmp/r.txt)
                ping -c 2 -W 5 10.97.0.1 > /dev/null 2>&1; echo GUEST-PING rc=$?
                echo GUEST-DONE
                sleep 3600
                """;
        String launchA = jvmm("launch", "--kernel", lab.kit().kernel().toString(), "--initrd",
                lab.kit().initrdGuest().toString(), "--memory", "256M", "--disk", "path=d1.img",
                "--net", "tap=jmg0,mac=52:54:00:00:16:01", "--api-socket", "@SA@", "--cmdline",
                "console=ttyS0 panic=-1 " + GuestCommandLine.scriptWord("mount -t ext4 /dev/vda /mnt && sh /mnt/guest.sh"))
                .replace("@SA@", "$W/a.sock");
        String incomingB = jvmm("launch", "--incoming", "unix:@MIGB@", "--net", "tap=jmg1", "--api-socket", "@SB@")
                .replace("@MIGB@", "$W/mig-b.sock").replace("@SB@", "$W/b.sock");
        String incomingC = jvmm("launch", "--incoming", "tcp:127.0.0.1:4717,tls-dir=@TLSC@", "--net", "tap=jmg2",
                "--api-socket", "@SC@").replace("@TLSC@", "$W/tls-c").replace("@SC@", "$W/c.sock");
        String incomingBad = jvmm("launch", "--incoming", "tcp:127.0.0.1:4718,tls-dir=@TLSX@")
                .replace("@TLSX@", "$W/tls-other");
        String remoteA = LabCli.remote("--api-socket", "@SA@").replace("@SA@", "$W/a.sock");
        String remoteB = LabCli.remote("--api-socket", "@SB@").replace("@SB@", "$W/b.sock");
        String remoteC = LabCli.remote("--api-socket", "@SC@").replace("@SC@", "$W/c.sock");
        String feed = "/usr/bin/python3 -c 'import socket,struct,sys,time\n"
                + "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(bytes.fromhex(sys.argv[2])); time.sleep(1)' ";
        String fakeDest = "/usr/bin/python3 -c 'import socket,sys\n"
                + "l=socket.socket(socket.AF_UNIX); l.bind(sys.argv[1]); l.listen(1); c,_=l.accept()\n"
                + "c.recv(65536); c.sendall(bytes.fromhex(\"00000065\")); n=0\n"
                + "while n < 8<<20:\n d=c.recv(1<<20)\n if not d: break\n n+=len(d)\n"
                + "print(\"FAKE-GOT\", n); c.close()' ";
        CommandResult r = lab.run(String.join("\n",
                "set -u; K=" + lab.kit().dir() + "; W=$JVMM_LAB_SCRATCH/mig-e2e; rm -rf $W; mkdir -p $W/fs && cd $W",
                "cat > fs/guest.sh <<'EOF'\n" + guest + "EOF",
                "cp $K/bin/udpseq fs/ && cp $K/bin/udpseq . && truncate -s 64M d1.img && mkfs.ext4 -q -F -d fs d1.img",
                "w() { for i in $(seq $(( $3 * 5 ))); do grep -q \"$2\" $1 && return 0; sleep 0.2; done; "
                        + "echo \"TIMEOUT waiting for $2 in $1\"; tail -30 $1; return 1; }",
                "waitport() { for i in $(seq 3000); do ss -ltn | grep -q \":$1 \" && return 0; sleep 0.2; done; echo \"TIMEOUT: port $1\"; return 1; }",
                "waitfile() { for i in $(seq 3000); do [ -e $1 ] && return 0; sleep 0.2; done; echo \"TIMEOUT: no $1\"; return 1; }",
                "ip link add brm type bridge; ip addr add 10.97.0.1/24 dev brm; ip link set brm up",
                "intobr() { for i in $(seq 600); do ip link show $1 > /dev/null 2>&1 && break; sleep 0.2; done; "
                        + "ip link set $1 master brm; ip link set $1 up; }",
                // certificates: a CA for B and C's pair, another CA for the untrusting destination
                "mkca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=$1 "
                        + "-keyout $1.key -out $1.pem 2>/dev/null; }",
                "mkcert() { mkdir -p $3; openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=$2 "
                        + "-keyout $3/key.pem -out $2.csr 2>/dev/null && openssl x509 -req -in $2.csr -CA $1.pem "
                        + "-CAkey $1.key -CAcreateserial -days 2 -out $3/cert.pem 2>/dev/null && cp $1.pem $3/ca.pem; }",
                "mkca ca1; mkca ca2; mkcert ca1 src tls-b; mkcert ca1 dst tls-c; mkcert ca2 other tls-other",
                launchA + " > a.log 2>&1 & VA=$!",
                "intobr jmg0; w a.log GUEST-READY 900 && waitfile $W/a.sock || { kill $VA; exit 1; }",
                // hostile 1: a destination that takes HELLO, says READY, reads 8 MiB and drops the connection
                fakeDest + "$W/fake.sock & FK=$!; waitfile $W/fake.sock",
                "echo DROPPED $(" + remoteA + " send-migration destination=unix:$W/fake.sock 2>&1; echo rc=$?)",
                "wait $FK; echo AFTER-DROP $(" + remoteA + " info | tr -d ' \\n' | grep -o '\"state\":\"[a-z]*\"')",
                // hostile 2: a TLS destination whose CA (ca2) did not sign the source's certificate
                incomingBad + " > bad-tls.log 2>&1 & VX=$!; waitport 4718",
                "echo UNTRUSTED $(" + remoteA + " send-migration destination=tcp:127.0.0.1:4718 tls-dir=$W/tls-b 2>&1; echo rc=$?)",
                "wait $VX; echo UNTRUSTED-DEST rc=$? $(grep -o 'Error: .*' bad-tls.log | head -1)",
                // hostile 3: streams that are not a jvmm migration, of another version, truncated mid-page
                "for case in junk:6a756e6b6a756e6b version:000000014a564d4d4d49475200000063 "
                        + "truncated:000000014a564d4d4d4947520000000100000002 ; do n=${case%%:*}; hex=${case#*:}; rm -f $W/in.sock; "
                        + jvmm("launch", "--incoming", "unix:@INSOCK@").replace("@INSOCK@", "$W/in.sock")
                        + " > in-$n.log 2>&1 & VI=$!; waitfile $W/in.sock; " + feed + "$W/in.sock $hex; wait $VI; "
                        + "echo FEED-$n rc=$? $(grep -o 'Error: .*' in-$n.log | head -1); done",
                "echo TICK-A $(grep -c TICK a.log)",
                // A -> B over a unix socket, while the guest streams UDP both ways
                incomingB + " > b.log 2>&1 & VB=$!; waitfile $W/mig-b.sock",
                "./udpseq recv 5601 200 > l1recv.txt & RCV=$!",
                "/usr/bin/python3 -c 'import socket; socket.create_connection((\"10.97.0.2\", 7000), 30).sendall(b\"go\")'",
                "sleep 8; ./udpseq send 10.97.0.2 5602 20000 140 2> l1send.txt &",
                "sleep 10; (intobr jmg1) & echo MIGRATE-AB $(" + remoteA + " send-migration destination=unix:$W/mig-b.sock "
                        + "downtime_ms=300 | tr -d ' \\n'; echo rc=$?)",
                "wait $VA; echo SOURCE-A rc=$?; w b.log TICK 120; waitfile $W/b.sock",
                "echo INFO-B $(" + remoteB + " info | tr -d ' \\n' | grep -o '\"state\":\"[a-z]*\"')",
                // B -> C over TCP on loopback with mutual TLS
                incomingC + " > c.log 2>&1 & VC=$!; waitport 4717",
                "(intobr jmg2) & echo MIGRATE-BC $(" + remoteB + " send-migration destination=tcp:127.0.0.1:4717 "
                        + "tls-dir=$W/tls-b downtime_ms=300 | tr -d ' \\n'; echo rc=$?)",
                "wait $VB; echo SOURCE-B rc=$?; w c.log GUEST-DONE 600; waitfile $W/c.sock",
                "wait $RCV; echo L1-RECV $(cat l1recv.txt)",
                "echo SHUTDOWN $(" + remoteC + " shutdown timeout=120; echo rc=$?)",
                "wait $VC; echo DEST-C rc=$?",
                "e2fsck -fn d1.img > fsck.txt 2>&1; echo FSCK rc=$?",
                "debugfs -R 'cat /lines.txt' d1.img 2>/dev/null > lines.txt; echo LINES $(wc -l < lines.txt) "
                        + "$(awk 'NR != $1 {bad++} END {print bad+0}' lines.txt)",
                "grep -h -E 'GUEST-|jvmm:|migrat|WARN|ERROR' a.log b.log c.log | grep -v TICK | head -40",
                "ip link del brm; cd /; rm -rf $W"), Duration.ofMinutes(30));
        String out = r.output();
        System.out.println("[migration-e2e]\n" + out);
        assertTrue(line(out, "DROPPED").matches(".*failed.*the VM goes on here.*rc=1"), out);
        assertEquals("\"state\":\"running\"", line(out, "AFTER-DROP"), "the source runs on after a dropped destination:\n" + out);
        assertTrue(line(out, "UNTRUSTED").matches(".*(TLS|certificate).*rc=1"), "an untrusting destination:\n" + out);
        assertTrue(line(out, "UNTRUSTED-DEST").matches("rc=[12] Error: .*(TLS|certificate).*"), out);
        assertTrue(line(out, "FEED-junk").matches("rc=2 Error: incoming migration.*not a jvmm migration.*"), out);
        assertTrue(line(out, "FEED-version").matches("rc=2 Error: incoming migration.*protocol version 99 is not supported.*"),
                out);
        assertTrue(line(out, "FEED-truncated").matches("rc=2 Error: incoming migration.*truncated.*"), out);
        String ab = line(out, "MIGRATE-AB");
        assertTrue(ab.endsWith("rc=0") && ab.contains("\"downtime_ms\":"), out);
        assertEquals("rc=0", line(out, "SOURCE-A"), out);
        assertEquals("\"state\":\"running\"", line(out, "INFO-B"), out);
        assertTrue(line(out, "MIGRATE-BC").endsWith("rc=0"), out);
        assertEquals("rc=0", line(out, "SOURCE-B"), out);
        Matcher toL1 = UDP.matcher(line(out, "L1-RECV"));
        Matcher toGuest = UDP.matcher(line(out, "GUEST-RECV"));
        assertTrue(toL1.find() && toGuest.find(), out);
        System.out.printf("[migration-e2e] two migrations: guest->L1 lost %s of %s, longest gap %s ms; L1->guest lost %s"
                + " of %s, longest gap %s ms%n", toL1.group(3), toL1.group(2), toL1.group(4), toGuest.group(3),
                toGuest.group(2), toGuest.group(4));
        System.out.println("[migration-e2e] A->B " + ab + "\n[migration-e2e] B->C " + line(out, "MIGRATE-BC"));
        assertTrue(Long.parseLong(toL1.group(1)) > 0 && Long.parseLong(toGuest.group(1)) > 0, out);
        assertEquals("rc=0", line(out, "GUEST-PING"), "the guest's NIC works after two migrations:\n" + out);
        assertEquals("rc=0", line(out, "SHUTDOWN"), out);
        assertEquals("rc=0", line(out, "DEST-C"), out);
        assertEquals("rc=0", line(out, "FSCK"), out);
        String[] lines = line(out, "LINES").split(" ");
        assertTrue(Long.parseLong(lines[0]) > 100 && lines[1].equals("0"), "the file is whole (1..N, no line lost):\n"
                + out);
    }

    private static final Pattern UDP = Pattern.compile("received (\\d+) of (\\d+) sent, lost (\\d+), duplicates \\d+, "
            + "reordered \\d+, longest gap ([0-9.]+) ms");
}

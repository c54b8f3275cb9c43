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
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Lab tier, issue 18: virtio-rng and virtio-console under the stock Debian guest's own drivers (virtio-rng, loaded
 * by the kit's image; virtio_console, built in), in one guest that is
 * snapshotted, killed and restored half-way:
 * <ol>
 * <li>jvmm A: {@code --rng max-bytes=4096,period-ms=1000}, {@code --virtio-console socket=hvc0.sock} and two
 * {@code --console-port}s on sockets. The guest reads 16 KiB of {@code /dev/hwrng} (at 4 KiB a second: four windows,
 * so at least three seconds whatever else reads it), lists {@code /sys/class/virtio-ports} and {@code /dev}, then
 * trades a line each way with a client on hvc0 and on port org.jvmm.test.0, and 1 MiB each way on org.jvmm.test.1
 * (sha256 on both sides). It asks for a snapshot on org.jvmm.test.0 and waits for a line there.</li>
 * <li>L1 snapshots A through the API and kills it with SIGKILL; jvmm B restores the snapshot (its sockets replace
 * A's stale ones), the guest is told the host end is gone (PORT_OPEN 0: its read sees EOF and tries again) and then
 * there again when the second client connects, which sends the line; the guest answers on org.jvmm.test.0 and hvc0,
 * reads /dev/hwrng once more and powers off.</li>
 * </ol>
 */
@LabTest
class RngConsoleLabTest {
    private static final Duration TIMEOUT = Duration.ofMinutes(30);

    static final String GUEST = """
            # kernel messages off the console: one printed mid-line (the TSC watchdog after the restore) broke a marker
            echo 1 > /proc/sys/kernel/printk
            echo G-RNG-CURRENT $(cat /sys/class/misc/hw_random/rng_current)
            s=$(cut -d' ' -f1 /proc/uptime); n=$(timeout 300 dd if=/dev/hwrng bs=1024 count=16 iflag=fullblock 2>/dev/null | wc -c)
            echo G-HWRNG $n $s $(cut -d' ' -f1 /proc/uptime)
            for p in /sys/class/virtio-ports/*; do echo G-VPORT ${p##*/} $(cat $p/name 2>/dev/null || echo -); done
            echo G-DEV $(cd /dev && ls -d vport* hvc* 2>/dev/null | tr '\\n' ' ')
            echo G-LINKS $(ls /dev/virtio-ports 2>&1)
            P0=; P1=
            for p in /sys/class/virtio-ports/*; do
              case $(cat $p/name 2>/dev/null) in org.jvmm.test.0) P0=/dev/${p##*/};; org.jvmm.test.1) P1=/dev/${p##*/};; esac
            done
            echo G-PORTS $P0 $P1
            # a line from the host: a read while no client is there ends at once (EOF), so try again
            rd() { l=; until read -r l <&$1 && [ -n "$l" ]; do sleep 0.2; done; }
            exec 5<>/dev/hvc0; echo G-HVC0-OUT >&5; rd 5; echo G-HVC0-IN $l
            exec 3<>$P0; echo guest-to-host-0 >&3; rd 3; echo G-P0-IN $l
            dd if=/dev/urandom of=/tmp/blob bs=64k count=16 2>/dev/null
            echo G-P1-OUT-SHA $(sha256sum < /tmp/blob | cut -d' ' -f1)
            exec 4<>$P1; cat /tmp/blob >&4; echo G-P1-IN-SHA $(head -c 1048576 <&4 | sha256sum | cut -d' ' -f1)
            exec 4>&-
            echo snapshot-me >&3; echo G-ASKED
            rd 3; echo G-P0-AFTER-RESTORE $l
            echo bye-0 >&3
            echo G-HVC0-AFTER >&5
            echo G-HWRNG-AFTER $(timeout 300 dd if=/dev/hwrng bs=512 count=2 iflag=fullblock 2>/dev/null | wc -c)
            echo G-DONE
            """;

    /**
     * The host's client, phase 1 or 2 ({@code client.py W PHASE}). 1: on every socket; a line each way on hvc0 and
     * port 0, 1 MiB each way on port 1; when port 0 asks for the snapshot, says so and holds its connections until
     * {@code W/phase1-done}. 2: on hvc0 and port 0 of the restored VM: sends the line the guest waits for, then reads
     * its answers.
     */
    static final String CLIENT = """
            import hashlib, os, socket, sys, time
            W, phase = sys.argv[1], sys.argv[2]
            def conn(name):
                for _ in range(6000):
                    try:
                        s = socket.socket(socket.AF_UNIX); s.connect(os.path.join(W, name)); return s
                    except OSError:
                        time.sleep(0.1)
                sys.exit("no " + name)
            def until(s, marker):
                buf = b""
                while marker not in buf:
                    d = s.recv(65536)
                    if not d:
                        sys.exit("EOF before %r: %r" % (marker, buf[-200:]))
                    buf += d
                return buf
            def exactly(s, n):
                buf = b""
                while len(buf) < n:
                    d = s.recv(min(65536, n - len(buf)))
                    if not d:
                        sys.exit("EOF after %d of %d bytes" % (len(buf), n))
                    buf += d
                return buf
            hvc, p0 = conn("hvc0.sock"), conn("p0.sock")
            if phase == "1":
                p1 = conn("p1.sock")
                until(hvc, b"G-HVC0-OUT"); hvc.sendall(b"host-to-hvc0\\n"); print("L1-HVC0-GOT G-HVC0-OUT", flush=True)
                got = until(p0, b"guest-to-host-0\\n"); p0.sendall(b"host-to-guest-0\\n")
                print("L1-P0-GOT", got.decode().strip(), flush=True)
                blob = exactly(p1, 1 << 20); print("L1-P1-GOT-SHA", hashlib.sha256(blob).hexdigest(), flush=True)
                mine = os.urandom(1 << 20); p1.sendall(mine)
                print("L1-P1-SENT-SHA", hashlib.sha256(mine).hexdigest(), flush=True)
                until(p0, b"snapshot-me\\n"); print("L1-SNAPSHOT-ASKED", flush=True)
                while not os.path.exists(os.path.join(W, "phase1-done")):
                    time.sleep(0.2)
            else:
                p0.sendall(b"after-restore\\n")
                got = until(p0, b"bye-0\\n"); print("L1-P0-BYE", got.decode().strip(), flush=True)
                until(hvc, b"G-HVC0-AFTER"); print("L1-HVC0-AFTER", flush=True)
            """;

    @Test
    void theGuestsDriversUseBothDevicesAcrossASnapshotAndARestore(LabSession lab) {
        String launchA = jvmm("launch", "--kernel", lab.kit().kernel().toString(), "--initrd",
                lab.kit().initrdGuest().toString(), "--memory", "256M", "--disk", "path=d.img",
                "--rng", "max-bytes=4096,period-ms=1000", "--virtio-console", "socket=@W@/hvc0.sock",
                "--console-port", "name=org.jvmm.test.0,socket=@W@/p0.sock",
                "--console-port", "name=org.jvmm.test.1,socket=@W@/p1.sock", "--api-socket", "@W@/a.sock",
                "--cmdline", "console=ttyS0 panic=-1 " + GuestCommandLine.scriptWord("mount -t ext4 /dev/vda /mnt && sh "
                        + "/mnt/guest.sh")).replace("@W@", "$W");
        String restoreB = jvmm("launch", "--restore", "@W@/snap,resume=on").replace("@W@", "$W");
        String remoteA = LabCli.remote("--api-socket", "@W@/a.sock").replace("@W@", "$W");
        CommandResult r = lab.run(String.join("\n",
                "set -u; W=$JVMM_LAB_SCRATCH/rng-console; rm -rf $W; mkdir -p $W/fs && cd $W",
                "cat > fs/guest.sh <<'EOF'\n" + GUEST + "EOF",
                "cat > client.py <<'EOF'\n" + CLIENT + "EOF",
                "truncate -s 32M d.img && mkfs.ext4 -q -F -d fs d.img",
                "w() { local end=$(( $(date +%s) + $3 )); while [ $(date +%s) -lt $end ]; do grep -q \"$2\" $1 && return 0; "
                        + "sleep 0.3; done; echo \"TIMEOUT waiting for $2 in $1\"; tail -30 $1; return 1; }",
                "reap() { local end=$(( $(date +%s) + $2 )); while [ $(date +%s) -lt $end ]; do kill -0 $1 2>/dev/null || "
                        + "break; sleep 0.5; done; kill -0 $1 2>/dev/null && { echo \"TIMEOUT: pid $1 still runs\"; kill -9 $1; }; "
                        + "wait $1; }",
                launchA + " > a.log 2>&1 & VA=$!",
                "/usr/bin/python3 client.py $W 1 > c1.log 2>&1 & C1=$!",
                "w c1.log L1-SNAPSHOT-ASKED 1200 || { kill -9 $VA $C1; cat a.log c1.log; exit 1; }",
                "echo SNAPSHOT $(" + remoteA + " snapshot destination=$W/snap | tr -d ' \\n'; echo rc=$?)",
                "kill -9 $VA; reap $VA 30; echo KILLED rc=$?",
                "echo STALE $(ls $W | grep -c '^[hp].*sock$')", // A's sockets, left behind by SIGKILL
                "touch $W/phase1-done; reap $C1 30; echo CLIENT1 rc=$?",
                restoreB + " > b.log 2>&1 & VB=$!",
                "/usr/bin/python3 client.py $W 2 > c2.log 2>&1 & C2=$!",
                "reap $VB 900; echo L1-B-RC $?",
                "reap $C2 60; echo CLIENT2 rc=$?",
                "echo SOCKETS-AFTER $(ls $W | grep -c '^[hp].*sock$')",
                "cat c1.log c2.log",
                "grep -h -a '^G-' a.log b.log",
                "grep -h -a -E 'virtio-(rng|console)|WARN|ERROR|Exception|jvmm:' a.log b.log | head -60",
                "cd /; rm -rf $W"), TIMEOUT);
        String out = r.output();
        System.out.println("[rng-console]\n" + out);

        // the entropy device
        assertEquals("virtio_rng.0", line(out, "G-RNG-CURRENT"), "the hwrng core took the device:\n" + out);
        String[] hw = line(out, "G-HWRNG").split(" ");
        assertEquals("16384", hw[0], "16 KiB from /dev/hwrng:\n" + out);
        // the rate limit itself is proven on the device's counters (VirtioRngTest), never on time here
        assertEquals("1024", line(out, "G-HWRNG-AFTER"), "the restored device serves:\n" + out);

        // the ports as the udev-less guest sees them
        Matcher vp = Pattern.compile("(?m)^G-VPORT vport(\\d+)p(\\d+) (\\S+)$").matcher(out);
        List<String> ports = new java.util.ArrayList<>();
        while (vp.find()) {
            ports.add("p" + vp.group(2) + "=" + vp.group(3));
        }
        assertEquals(List.of("p0=-", "p1=org.jvmm.test.0", "p2=org.jvmm.test.1"), ports, out);
        assertTrue(line(out, "G-DEV").contains("hvc0"), out);
        assertTrue(line(out, "G-LINKS").contains("No such file or directory"), "busybox makes no /dev/virtio-ports "
                + "links (udev would):\n" + out);

        // bytes both ways, before the snapshot
        assertEquals("G-HVC0-OUT", line(out, "L1-HVC0-GOT"), out);
        assertTrue(line(out, "G-HVC0-IN").startsWith("host-to-hvc0"), out);
        assertEquals("guest-to-host-0", line(out, "L1-P0-GOT"), out);
        assertEquals("host-to-guest-0", line(out, "G-P0-IN"), out);
        assertEquals(line(out, "G-P1-OUT-SHA"), line(out, "L1-P1-GOT-SHA"), "1 MiB guest to host:\n" + out);
        assertEquals(line(out, "L1-P1-SENT-SHA"), line(out, "G-P1-IN-SHA"), "1 MiB host to guest:\n" + out);

        // snapshot, SIGKILL, restore on fresh sockets
        assertTrue(line(out, "SNAPSHOT").endsWith("rc=0"), out);
        assertEquals("3", line(out, "STALE"), "SIGKILL left A's three sockets:\n" + out);
        assertEquals("after-restore", line(out, "G-P0-AFTER-RESTORE"), out);
        assertEquals("bye-0", line(out, "L1-P0-BYE"), out);
        assertTrue(out.contains("L1-HVC0-AFTER"), out);
        assertTrue(out.contains("G-DONE"), out);
        assertEquals("0", line(out, "L1-B-RC"), "the restored guest powered off:\n" + out);
        assertEquals("0", line(out, "CLIENT2 rc="), out);
        assertEquals("0", line(out, "SOCKETS-AFTER"), "B removed its sockets at exit:\n" + out);
    }
}

package dev.jvmm.vmm;

import static dev.jvmm.vmm.LabCli.line;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.Classpath;
import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.GuestCommandLine;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.ShellQuote;
import dev.jvmm.lab.junit.LabTest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Lab tier, issue 18: the rest of the virtio family with the stock Debian guest's own drivers, all in one L2 boot.
 * <ul>
 * <li>balloon: see {@link #balloonInflatesDeflatesReportsFreePagesAndSendsStats}.</li>
 * <li>qcow2 (issue 19): see {@link #qcow2OnABackingFileReadsWritesVerifiesAndChecksClean}.</li>
 * <li>rng and console: see {@link #rngGivesEntropyAndTheConsolesCarryLinesBothWays}.</li>
 * <li>a libvirt domain XML (issue 19), a second boot: see {@link #aLibvirtDomainXmlBootsWithEveryDeviceWorking}.</li>
 * <li>vsock ({@code --vsock cid=7}, vhost-vsock in L1): the guest's {@code vsockecho} (a test resource, built static)
 * connects to the host (CID 2) and a Java peer in L1 ({@code VsockPeer}, through jvmm's own AF_VSOCK binding)
 * answers; then the guest listens and the peer connects to CID 7. Bytes arrive both ways, each way.</li>
 * </ul>
 */
@LabTest
class VirtioFamilyLabTest {
    private static final Duration TIMEOUT = Duration.ofMinutes(14);
    private static String output;

    /** The guest's script, on its first disk (too long for the kernel command line); vda is mounted on /mnt. */
    static final String GUEST = """
            echo G-RNG $(cat /sys/class/misc/hw_random/rng_current) $(dd if=/dev/hwrng bs=64 count=4 2>/dev/null | wc -c)
            exec 4<>/dev/hvc0; echo G-HVC-READY >&4; read -t 60 line <&4; exec 4>&-; echo "G-HVC-GOT ${line:-}"
            P=$(grep -l org.jvmm.test.0 /sys/class/virtio-ports/*/name); D=/dev/$(basename $(dirname $P))
            echo G-PORT $(cat $P) $D $(ls /dev/virtio-ports/ 2>/dev/null | wc -l)
            exec 3<>$D; echo G-PORT-READY >&3; read -t 60 line <&3; exec 3>&-; echo "G-PORT-GOT ${line:-}"
            mt() { awk '/MemTotal/{print $2}' /proc/meminfo; }
            T0=$(mt); echo G-BALLOON-READY $T0
            i=0; while [ $i -lt 900 ] && [ $(mt) -gt $((T0 - 130000)) ]; do sleep 0.2; i=$((i+1)); done
            echo G-INFLATED $T0 $(mt)
            i=0; while [ $i -lt 900 ] && [ $(mt) -lt $T0 ]; do sleep 0.2; i=$((i+1)); done
            echo G-DEFLATED $T0 $(mt)
            mkdir -p /t && mount -t tmpfs -o size=400m tmpfs /t
            dd if=/dev/zero of=/t/fill bs=1M count=256 2>/dev/null; sync; echo G-FILLED
            sleep 8; rm /t/fill; echo G-FREED
            sleep 45
            /mnt/vsockecho connect 2 5000 ping-from-guest; echo G-VSOCK-CONNECT-RC $?
            /mnt/vsockecho listen 5001 pong-from-guest; echo G-VSOCK-LISTEN-RC $?
            for s in /sys/block/vd*; do case $(cat $s/serial) in q-top) QT=/dev/${s##*/};; q-verify) QV=/dev/${s##*/};; esac; done
            mkdir -p /q && mount -t ext4 $QT /q && echo G-QBASE $(md5sum < /q/base.bin | cut -d' ' -f1)
            dd if=/dev/urandom of=/q/new.bin bs=1M count=48 2>/dev/null
            i=0; while [ $i -lt 100 ]; do echo $i > /q/s$i; i=$((i+1)); done; sync
            echo G-QNEW $(md5sum < /q/new.bin | cut -d' ' -f1)
            # fio (Debian's, with its libraries, from the tools disk), verify on: on the raw qcow2 disk, random
            # writes of 4-64 KiB at queue depth 16, most of them allocating; then on a file of the ext4 on the top
            # image, over the backing file
            FIO="/mnt/fio/ld.so --library-path /mnt/fio /mnt/fio/fio"
            $FIO --name=qv --filename=$QV --direct=1 --ioengine=libaio --iodepth=16 --rw=randwrite --bsrange=4k-64k \
              --size=96M --verify=crc32c --verify_fatal=1 --randrepeat=0 --output-format=terse --terse-version=3 > /tmp/fio1 2>&1
            echo G-FIO-RAW rc=$? $(grep '^3;' /tmp/fio1 | cut -d';' -f3,5,6,47); grep -iE 'verify|error' /tmp/fio1 | head -5
            $FIO --name=qt --filename=/q/fio.bin --direct=1 --ioengine=libaio --iodepth=8 --rw=randrw --bs=16k --size=32M \
              --verify=md5 --verify_fatal=1 --output-format=terse --terse-version=3 > /tmp/fio2 2>&1
            echo G-FIO-FILE rc=$? $(grep '^3;' /tmp/fio2 | cut -d';' -f3,5,6,47); grep -iE 'verify|error' /tmp/fio2 | head -5
            umount /q; echo G-QUMOUNT-RC $?
            umount /mnt
            """;

    /** L1's end of a virtio-console socket: connect (retrying), wait for the guest's line, answer with one. */
    static final String CLIENT = """
            import socket, sys, time
            path, want, send = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
            for i in range(1500):
                try:
                    s = socket.socket(socket.AF_UNIX); s.connect(path); break
                except OSError:
                    time.sleep(0.2)
            buf = b''
            while want not in buf:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            print('L1-SOCKET', path, 'got' if want in buf else 'missed', want.decode(), flush=True)
            s.sendall((send + '\\n').encode()); time.sleep(3); s.close()
            """;

    /** The libvirt VM's script (on its raw disk, vda). */
    static final String LIBVIRT_GUEST = """
            echo G-LV-DISKS $(cat /sys/block/vda/serial) $(cat /sys/block/vdb/serial) $(cat /sys/block/vdb/ro)
            mkdir -p /q && mount -o ro,noload -t ext4 /dev/vdb /q && echo G-LV-QCOW2 $(cat /q/hello.txt) && umount /q
            N=$(for n in /sys/class/net/*; do [ "$(cat $n/address)" = 52:54:00:4c:56:01 ] && basename $n; done)
            ip addr add 10.0.2.2/24 dev $N; ip link set $N up
            i=0; while [ $i -lt 100 ] && [ "$(cat /sys/class/net/$N/carrier)" != 1 ]; do sleep 0.1; i=$((i+1)); done
            ping -c 2 -W 5 10.0.2.1 > /dev/null 2>&1; echo G-LV-PING $? $(ls /sys/class/net/$N/queues | grep -c rx)
            echo G-LV-RNG $(cat /sys/class/misc/hw_random/rng_current) $(dd if=/dev/hwrng bs=64 count=4 2>/dev/null | wc -c)
            i=0; while [ $i -lt 150 ] && [ $(awk '/MemTotal/{print $2}' /proc/meminfo) -gt 400000 ]; do sleep 0.2; i=$((i+1)); done
            echo G-LV-MEM $(awk '/MemTotal/{print $2}' /proc/meminfo)
            echo G-LV-CPUS $(nproc)
            """;

    /** The domain XML of the libvirt VM, with the lab kit's kernel and initrd. */
    static String domainXml(LabSession lab) {
        return """
                <domain type='kvm'>
                  <name>jvmm-libvirt-lab</name>
                  <memory unit='MiB'>512</memory>
                  <currentMemory unit='MiB'>384</currentMemory>
                  <vcpu placement='static'>2</vcpu>
                  <os>
                    <type arch='x86_64' machine='pc-q35-8.2'>hvm</type>
                    <kernel>%s</kernel>
                    <initrd>%s</initrd>
                    <cmdline>console=ttyS0 quiet panic=-1 %s</cmdline>
                  </os>
                  <features><acpi/><apic/></features>
                  <on_reboot>destroy</on_reboot>
                  <devices>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='raw' cache='none' io='threads'/>
                      <source file='lv.raw'/>
                      <target dev='vda' bus='virtio'/>
                      <serial>LV-RAW</serial>
                    </disk>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2' cache='writeback'/>
                      <source file='lv.qcow2'/>
                      <target dev='vdb' bus='virtio'/>
                      <readonly/>
                      <serial>LV-QCOW2</serial>
                    </disk>
                    <interface type='bridge'>
                      <mac address='52:54:00:4c:56:01'/>
                      <source bridge='jbr0'/>
                      <model type='virtio'/>
                      <driver queues='2'/>
                    </interface>
                    <serial type='pty'><target port='0'/></serial>
                    <console type='pty'><target type='serial' port='0'/></console>
                    <memballoon model='virtio'><stats period='2'/></memballoon>
                    <rng model='virtio'>
                      <backend model='random'>/dev/urandom</backend>
                      <rate bytes='65536' period='1000'/>
                    </rng>
                  </devices>
                </domain>
                """.formatted(lab.kit().kernel(), lab.kit().initrdGuest(), GuestCommandLine.scriptWord(
                "mount -t ext4 /dev/vda /mnt && cp /mnt/lv.sh /tmp/l.sh && sh /tmp/l.sh"));
    }

    /** A Java main of the test classpath as one shell command in L1. */
    private static String java(String main, String... args) {
        List<String> w = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", Classpath.current(), main));
        w.addAll(List.of(args));
        return ShellQuote.join(w);
    }

    static synchronized String run(LabSession lab) {
        if (output != null) {
            return output;
        }
        Path vsockecho = VirtioLabTest.staticHelper("vsockecho");
        List<String> launch = new ArrayList<>(List.of("launch", "--kernel", lab.kit().kernel().toString(),
                "--initrd", lab.kit().initrdGuest().toString(), "--memory", "1G", "--cpus", "1",
                "--cmdline", "console=ttyS0 quiet panic=-1 " + GuestCommandLine.scriptWord(
                        "mount -t ext4 /dev/vda /mnt && cp /mnt/guest.sh /tmp/g.sh && sh /tmp/g.sh"),
                "--api-socket", "api.sock", "--disk", "path=disk.img",
                "--disk", "path=top.qcow2,cache=none,id=q-top", "--disk", "path=v.qcow2,cache=writeback,aio=threads,id=q-verify",
                "--balloon", "free-page-reporting=on,stats=2", "--vsock", "cid=7",
                "--rng", "--virtio-console", "socket=hvc.sock", "--console-port", "name=org.jvmm.test.0,socket=port.sock"));
        String peer = "dev.jvmm.sys.vsock.VsockPeer";
        String remote = LabCli.remote("--api-socket", "api.sock");
        String script = String.join("\n",
                "set -u; W=$JVMM_LAB_SCRATCH/family; rm -rf $W; mkdir -p $W/fs && cd $W",
                "cp " + vsockecho + " fs/vsockecho",
                "cat > fs/guest.sh <<'EOF'\n" + GUEST + "EOF",
                // fio from the host's Debian package, with the libraries it links and its loader
                "F=$(command -v fio) || { echo L1-NO-FIO; exit 1; }; mkdir fs/fio && cp $F fs/fio/fio"
                        + " && for l in $(ldd $F | grep -o '/[^ ]*'); do cp -L $l fs/fio/; done"
                        + " && cp -L $(ldd $F | grep -o '/[^ ]*ld-linux[^ ]*' | head -1) fs/fio/ld.so",
                "truncate -s 256M disk.img && mkfs.ext4 -q -F -d fs disk.img",
                // qcow2: an ext4 base image with a file, a top image on it (jvmm img), and a 4 KiB-cluster image
                "mkdir qfs && head -c 16777216 /dev/urandom > qfs/base.bin && BASE_MD5=$(md5sum < qfs/base.bin | cut -d' ' -f1)",
                "truncate -s 256M base.raw && mkfs.ext4 -q -F -d qfs base.raw && qemu-img convert -O qcow2 base.raw base.qcow2",
                LabCli.jvmm("img", "create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2") + " > /dev/null",
                LabCli.jvmm("img", "create", "-f", "qcow2", "-o", "cluster_size=4096", "v.qcow2", "256M") + " > /dev/null",
                "until_log() { i=0; while [ $i -lt 1500 ] && ! grep -q \"$1\" vm.log; do"
                        + " kill -0 $VM 2>/dev/null || { echo \"L1-VM-GONE waiting for $1\"; tail -30 vm.log; return 1; };"
                        + " sleep 0.2; i=$((i+1)); done; }",
                "alive() { kill -0 $VM 2>/dev/null; }",
                "rss() { awk '/VmRSS/{print $2}' /proc/$VM/status; }",
                "num() { grep -o \"\\\"$1\\\": *[0-9]*\" | grep -o '[0-9]*$'; }",
                java(peer, "listen", "5000", "pong-from-host") + " > peer1.log 2>&1 & P1=$!",
                // the console's two sockets: wait for the guest's line, answer with one
                "cat > cli.py <<'EOF'\n" + CLIENT + "EOF",
                "/usr/bin/python3 cli.py hvc.sock G-HVC-READY from-l1-hvc > hvc.log 2>&1 & C1=$!",
                "/usr/bin/python3 cli.py port.sock G-PORT-READY from-l1-port > port.log 2>&1 & C2=$!",
                LabCli.jvmm(launch.toArray(String[]::new)) + " > vm.log 2>&1 & VM=$!",
                // balloon: inflate by 128 MiB, then deflate, through the control API
                "until_log G-BALLOON-READY; " + remote + " resize-balloon size=128M > /dev/null; echo L1-RESIZE-RC $?",
                "i=0; while alive && [ $i -lt 150 ] && [ \"$(" + remote + " balloon | num actual_bytes)\" != 134217728 ]; do sleep 0.2; i=$((i+1)); done",
                "B=$(" + remote + " balloon); echo L1-INFLATED $(echo \"$B\" | num actual_bytes) $(echo \"$B\" | num released_bytes)"
                        + " $(echo \"$B\" | num refused_pages)",
                "until_log G-INFLATED; " + remote + " resize-balloon size=0 > /dev/null",
                "i=0; while alive && [ $i -lt 150 ] && [ \"$(" + remote + " balloon | num actual_bytes)\" != 0 ]; do sleep 0.2; i=$((i+1)); done",
                "echo L1-DEFLATED $(" + remote + " balloon | num actual_bytes)",
                // free page reporting: the guest fills 256 MiB of tmpfs, then frees it; jvmm's RSS follows
                "until_log G-FILLED; sleep 2; R1=$(rss)",
                "until_log G-FREED; i=0; while alive && [ $i -lt 200 ] && [ $(rss) -gt $((R1 - 204800)) ]; do sleep 0.2; i=$((i+1)); done",
                "B=$(" + remote + " balloon); echo L1-RSS $R1 $(rss) reported $(echo \"$B\" | num reported_bytes)",
                "echo L1-STATS $(echo \"$B\" | num updates) $(echo \"$B\" | num total-memory)",
                // vsock: the guest connects to the host, then listens for it
                "until_log 'vsockecho listening 5001'",
                java(peer, "connect", "7", "5001", "ping-from-host") + " > peer2.log 2>&1; echo L1-PEER2-RC $?",
                "wait $VM; echo L1-VM-RC $?",
                "kill $P1 $C1 $C2 2>/dev/null; wait $P1 $C1 $C2 2>/dev/null; cat hvc.log port.log",
                "cat vm.log; sed 's/^/L1-PEER1 /' peer1.log; sed 's/^/L1-CONNECTED /' peer2.log",
                "echo L1-QBASE $BASE_MD5",
                "qemu-img check top.qcow2 > c1.log 2>&1; echo L1-QCHECK $? $(qemu-img check v.qcow2 > c2.log 2>&1; echo $?); cat c1.log c2.log",
                "qemu-img compare base.raw base.qcow2 > /dev/null; echo L1-QBASE-UNCHANGED $?",
                "qemu-img convert -O raw top.qcow2 top.raw && e2fsck -fn top.raw > fsck.log 2>&1; echo L1-QFSCK $?; tail -3 fsck.log",
                "echo L1-QNEW $(debugfs -R 'cat /new.bin' top.raw 2>/dev/null | md5sum | cut -d' ' -f1)",
                "echo L1-QINFO $(" + LabCli.jvmm("img", "info", "top.qcow2") + " | grep -i '^backing file:')",
                // a second VM from a libvirt domain XML: kernel boot, a raw and a qcow2 disk, a NIC on a bridge,
                // memballoon, rng
                "ip link add jbr0 type bridge && ip addr add 10.0.2.1/24 dev jbr0 && ip link set jbr0 up",
                "mkdir lvfs lvq && echo libvirt-qcow2 > lvq/hello.txt && cat > lvfs/lv.sh <<'EOF'\n" + LIBVIRT_GUEST + "EOF",
                "truncate -s 64M lv.raw && mkfs.ext4 -q -F -d lvfs lv.raw",
                "truncate -s 64M lvq.raw && mkfs.ext4 -q -F -d lvq lvq.raw && qemu-img convert -O qcow2 lvq.raw lv.qcow2",
                "cat > lab.xml <<'EOF'\n" + domainXml(lab) + "EOF",
                LabCli.jvmm("launch", "--libvirt", "lab.xml", "--dry-run") + " > dry.log 2>&1; echo L1-LV-DRY-RC $?;"
                        + " sed 's/^/L1-LV-DRYRUN /' dry.log",
                LabCli.jvmm("launch", "--libvirt", "lab.xml") + " > lv.log 2>&1; echo L1-LV-RC $?; cat lv.log",
                "ip link del jbr0",
                "cd /; rm -rf $W");
        CommandResult r = lab.run(script, TIMEOUT);
        output = r.output();
        System.out.println("[family] one L2 boot:\n" + output);
        return output;
    }

    /**
     * Balloon ({@code --balloon free-page-reporting=on,stats=2}, 1 GiB guest): inflating to 128 MiB through the API
     * lowers the guest's MemTotal by about that much and releases 128 MiB; deflating to 0 gives it back; after the
     * guest filled and then freed 256 MiB of tmpfs, free page reporting brings jvmm's RSS down by at least 200 MiB;
     * the guest's memory statistics arrive through the API.
     */
    @Test
    void balloonInflatesDeflatesReportsFreePagesAndSendsStats(LabSession lab) {
        String out = run(lab);
        assertEquals("0", line(out, "L1-VM-RC"), out);
        assertEquals("0", line(out, "L1-RESIZE-RC"), out);
        assertEquals("134217728 134217728 0", line(out, "L1-INFLATED"), "inflated and released:\n" + out);
        String[] inflated = line(out, "G-INFLATED").split(" ");
        long t0 = Long.parseLong(inflated[0]);
        long t1 = Long.parseLong(inflated[1]);
        assertTrue(Math.abs((t0 - t1) - 131072) < 131072 / 50, "MemTotal down by 128 MiB: " + t0 + " -> " + t1);
        assertEquals("0", line(out, "L1-DEFLATED"), out);
        String[] deflated = line(out, "G-DEFLATED").split(" ");
        assertEquals(deflated[0], deflated[1], "MemTotal back after the deflate:\n" + out);
        String[] rss = line(out, "L1-RSS").split(" ");
        long r1 = Long.parseLong(rss[0]);
        long r2 = Long.parseLong(rss[1]);
        assertTrue(r1 - r2 >= 200 * 1024, "free page reporting lowered jvmm's RSS by >= 200 MiB: " + r1 + " -> " + r2
                + " kB\n" + out);
        assertTrue(Long.parseLong(rss[3]) >= 200L << 20, "reported_bytes: " + rss[3]);
        String[] stats = line(out, "L1-STATS").split(" ");
        assertTrue(stats.length == 2 && Long.parseLong(stats[0]) >= 1, "stats updates: " + line(out, "L1-STATS"));
        assertTrue(Math.abs(Long.parseLong(stats[1]) - t0 * 1024) < t0 * 1024 / 50,
                "the guest's total-memory statistic is its MemTotal: " + stats[1] + " vs " + t0 + " kB");
    }

    /**
     * qcow2: the guest reads a file of the base image through a top image made by {@code jvmm img create -b} (a
     * {@code cache=none} disk), writes 48 MiB and 100 small files into it; fio (Debian's, verify on) writes and
     * checks 96 MiB of random 4-64 KiB blocks at depth 16 on a fresh 4 KiB-cluster image ({@code cache=writeback},
     * {@code aio=threads}), and random reads and writes to a file of the ext4 over the backing file; then in L1 both
     * images pass {@code qemu-img check}, the base is unchanged, the top image converted to raw fscks clean and holds
     * the guest's file.
     */
    @Test
    void qcow2OnABackingFileReadsWritesVerifiesAndChecksClean(LabSession lab) {
        String out = run(lab);
        assertEquals("0", line(out, "L1-VM-RC"), out);
        assertEquals(line(out, "L1-QBASE"), line(out, "G-QBASE"), "the base file read through the top image:\n" + out);
        assertEquals("0", line(out, "G-QUMOUNT-RC"), out);
        assertFioVerified(line(out, "G-FIO-RAW"), "qv", out);
        assertFioVerified(line(out, "G-FIO-FILE"), "qt", out);
        assertEquals("0 0", line(out, "L1-QCHECK"), "qemu-img check of both images:\n" + out);
        assertEquals("0", line(out, "L1-QBASE-UNCHANGED"), out);
        assertEquals("0", line(out, "L1-QFSCK"), out);
        assertEquals(line(out, "G-QNEW"), line(out, "L1-QNEW"), "the guest's file in the top image:\n" + out);
        assertTrue(line(out, "L1-QINFO").contains("base.qcow2"), out);
    }

    /**
     * A fio job's line {@code rc=RC JOB;ERROR;READ_KB;WRITE_KB} (terse format 3's fields 3, 5, 6 and 47): fio exited
     * 0 with no error, and read back (its verify pass) at least what it wrote.
     */
    private static void assertFioVerified(String l, String job, String out) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("rc=0 " + job + ";0;(\\d+);(\\d+)").matcher(l);
        assertTrue(m.matches(), "fio " + job + " with verify: " + l + "\n" + out);
        assertTrue(Long.parseLong(m.group(2)) > 0 && Long.parseLong(m.group(1)) >= Long.parseLong(m.group(2)),
                "fio " + job + " wrote and verified: " + l);
    }

    /**
     * virtio-rng ({@code --rng}): the guest's hwrng is virtio's and gives bytes. virtio-console ({@code
     * --virtio-console socket=}, {@code --console-port name=,socket=}): a line the guest writes to hvc0, and to the
     * named port (found by its name in sysfs), arrives on its unix socket in L1, and a line from L1 arrives in the
     * guest. The guest holds each device open while it writes and reads: data that comes while a port or tty is closed
     * is not kept for the next open.
     */
    @Test
    void rngGivesEntropyAndTheConsolesCarryLinesBothWays(LabSession lab) {
        String out = run(lab);
        assertEquals("0", line(out, "L1-VM-RC"), out);
        assertTrue(line(out, "G-RNG").matches("virtio_rng\\.\\d+ 256"), "the guest's hwrng: " + line(out, "G-RNG"));
        assertTrue(out.contains("L1-SOCKET hvc.sock got G-HVC-READY"), "hvc0 -> socket:\n" + out);
        assertEquals("from-l1-hvc", line(out, "G-HVC-GOT"), "socket -> hvc0:\n" + out);
        assertTrue(line(out, "G-PORT").matches("org\\.jvmm\\.test\\.0 /dev/vport\\d+p1 \\d+"), out);
        assertTrue(out.contains("L1-SOCKET port.sock got G-PORT-READY"), "port -> socket:\n" + out);
        assertEquals("from-l1-port", line(out, "G-PORT-GOT"), "socket -> port:\n" + out);
    }

    /**
     * {@code jvmm launch --libvirt}: a domain XML with a kernel boot, a raw and a read-only qcow2 virtio disk, a
     * virtio NIC on a bridge with 2 queues, a memballoon (currentMemory 128 MiB below memory) and an rng, 2 vCPUs:
     * the dry run names the options, and the guest sees every device working.
     */
    @Test
    void aLibvirtDomainXmlBootsWithEveryDeviceWorking(LabSession lab) {
        String out = run(lab);
        assertEquals("0", line(out, "L1-LV-DRY-RC"), out);
        String dry = line(out, "L1-LV-DRYRUN");
        assertTrue(dry.contains("--balloon") && dry.contains("--rng") && dry.contains("format=qcow2")
                && dry.contains("bridge=jbr0"), "the dry run's command line: " + dry);
        assertEquals("0", line(out, "L1-LV-RC"), out);
        assertEquals("LV-RAW LV-QCOW2 1", line(out, "G-LV-DISKS"), out);
        assertEquals("libvirt-qcow2", line(out, "G-LV-QCOW2"), out);
        assertEquals("0 2", line(out, "G-LV-PING"), "ping over the bridge, 2 rx queues:\n" + out);
        assertTrue(line(out, "G-LV-RNG").matches("virtio_rng\\.\\d+ 256"), out);
        assertTrue(Long.parseLong(line(out, "G-LV-MEM")) < 400000, "the balloon took 128 MiB: " + line(out, "G-LV-MEM"));
        assertEquals("2", line(out, "G-LV-CPUS"), out);
    }

    @Test
    void vsockCarriesBytesBothWaysThroughVhostVsock(LabSession lab) {
        String out = run(lab);
        assertEquals("0", line(out, "L1-VM-RC"), out);
        assertTrue(out.contains("vsockecho got: pong-from-host"), "guest → host and back:\n" + out);
        assertEquals("0", line(out, "G-VSOCK-CONNECT-RC"), out);
        assertTrue(out.lines().anyMatch(l -> l.matches("L1-PEER1 VsockPeer from 7:\\d+ got: ping-from-guest")), out);
        assertTrue(out.lines().anyMatch(l -> l.matches(".*vsockecho from 2:\\d+ got: ping-from-host.*")), out);
        assertEquals("VsockPeer got: pong-from-guest", line(out, "L1-CONNECTED"), out);
        assertEquals("0", line(out, "L1-PEER2-RC"), out);
        assertEquals("0", line(out, "G-VSOCK-LISTEN-RC"), out);
    }
}

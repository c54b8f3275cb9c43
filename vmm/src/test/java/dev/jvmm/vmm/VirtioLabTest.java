package dev.jvmm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.GuestCommandLine;
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
 * Lab tier: virtio-blk and virtio-net under the stock Debian guest's own drivers (virtio_pci, virtio_blk,
 * virtio_net, ext4), with {@code jvmm launch --disk ... --net ...} inside the emulated host (L1). One batch, two
 * L2 boots, shared by every test here (each L2 boot costs 20-30 s):
 * <ol>
 * <li>boot 1 (2 vCPUs, seven disks, two NICs, the second with 2 queue pairs): writes a 32 MiB file on ext4 on
 * {@code vda} and prints its sha256; tries to write the read-only {@code vdb}; runs {@code blkdepth} (16 threads of
 * O_DIRECT writers and readers over 64 MiB with per-block checksums: write, fsync, read back, rewrite half while
 * reading the other half, fsync, verify) on each of five raw disks, one per cache mode, O_DIRECT on both engines
 * ({@link #DEPTH_DISKS}); pings L1 over both TAPs (vhost-net, the second with 2 queue pairs); sends 64 MiB over TCP
 * to L1; counts the multiqueue NIC's queues; cycles the first NIC's link and rebinds its driver, pinging after
 * each.</li>
 * <li>boot 2 (the same image, and the first TAP with {@code vhost=off}): reads the file back and checks the sha256,
 * pings and sends 16 MiB over the VMM's own data plane, deletes the file and runs {@code fstrim}.</li>
 * </ol>
 * L1 checks what the guest cannot: the received bytes' sha256, the image's allocated blocks before and after the
 * discard, that the read-only image is unchanged, and that each blkdepth image holds what the guest last wrote (the
 * same checksum of block checksums); jvmm's log says which engine each disk got and how many requests it had in
 * flight at once.
 */
@LabTest
class VirtioLabTest {
    private static final Duration TIMEOUT = Duration.ofMinutes(15);
    private static String output;

    /**
     * The blkdepth disks of boot 1: serial ({@code bd-} + cache mode + engine, which names its image too), the
     * {@code --disk} options, and the engine jvmm must give it (auto takes io_uring where L1's kernel allows it).
     */
    static final List<String[]> DEPTH_DISKS = List.of(
            new String[] {"bd-none-uring", "cache=none,aio=io_uring", "io_uring"},
            new String[] {"bd-none-threads", "cache=none,aio=threads", "threads"},
            new String[] {"bd-wback-threads", "cache=writeback,aio=threads", "threads"},
            new String[] {"bd-wthrough-uring", "cache=writethrough,aio=io_uring", "io_uring"},
            new String[] {"bd-unsafe-auto", "cache=unsafe", "io_uring"});

    static final String BOOT1 = """
            echo G-SERIAL $(cat /sys/block/vda/serial) $(cat /sys/block/vdb/serial)
            echo G-DISKS $(ls /sys/block | grep -c '^vd')
            dd if=/dev/urandom of=/mnt/data.bin bs=1M count=32 2>/dev/null
            sync
            echo G-WRITE-SHA $(sha256sum /mnt/data.bin | cut -d' ' -f1)
            echo G-VDB-RO $(cat /sys/block/vdb/ro)
            dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>/dev/null; echo G-VDB-WRITE-RC $?
            blockdev --setrw /dev/vdb
            dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>/dev/null; echo G-VDB-FORCED-WRITE-RC $?
            n=0
            for s in /sys/block/vd*; do
              d=${s##*/}; id=$(cat $s/serial)
              case $id in bd-*)
                n=$((n+1)); /mnt/blkdepth /dev/$d 64 16 $n >/tmp/bd 2>&1; echo G-BLKDEPTH-RC $id $?
                sed "s/^/G-$id /" /tmp/bd;;
              esac
            done
            A=; B=
            for i in /sys/class/net/*; do
              case $(cat $i/address) in 52:54:00:00:50:02) A=${i##*/};; 52:54:00:00:51:02) B=${i##*/};; esac
            done
            echo G-NICS $A $B
            ip link set $A up; ip addr add 10.50.0.2/24 dev $A
            ip link set $B up; ip addr add 10.51.0.2/24 dev $B
            echo G-MQ $(ls -d /sys/class/net/$B/queues/rx-* | wc -l) $(ls -d /sys/class/net/$A/queues/rx-* | wc -l)
            ping -c 3 -W 10 10.50.0.1 >/tmp/p0 2>&1; echo G-PING0-RC $?; grep received /tmp/p0
            ping -c 3 -W 10 10.51.0.1 >/tmp/p1 2>&1; echo G-PING1-RC $?; grep received /tmp/p1
            dd if=/dev/urandom of=/tmp/blob bs=1M count=64 2>/dev/null
            echo G-SEND-SHA $(sha256sum /tmp/blob | cut -d' ' -f1)
            /mnt/tcpxfer send 10.50.0.1 5000 /tmp/blob; echo G-SEND-RC $?
            ip link set $A down; ip link set $A up; sleep 1
            ping -c 2 -W 10 10.50.0.1 >/tmp/p2 2>&1; echo G-LINKCYCLE-PING-RC $?
            D=$(basename $(readlink /sys/class/net/$A/device))
            echo $D > /sys/bus/virtio/drivers/virtio_net/unbind; echo $D > /sys/bus/virtio/drivers/virtio_net/bind
            A=; for i in /sys/class/net/*; do [ "$(cat $i/address)" = 52:54:00:00:50:02 ] && A=${i##*/}; done
            ip link set $A up; ip addr add 10.50.0.2/24 dev $A
            ping -c 2 -W 10 10.50.0.1 >/tmp/p3 2>&1; echo G-REBIND-PING-RC $?
            umount /mnt; echo G-DONE1
            """;
    static final String BOOT2 = """
            echo G-READ-SHA $(sha256sum /mnt/data.bin | cut -d' ' -f1)
            ip link set eth0 up; ip addr add 10.50.0.2/24 dev eth0
            ping -c 2 -W 10 10.50.0.1 >/tmp/p0 2>&1; echo G-USERSPACE-PING-RC $?
            dd if=/dev/urandom of=/tmp/blob bs=1M count=16 2>/dev/null
            echo G-SEND2-SHA $(sha256sum /tmp/blob | cut -d' ' -f1)
            /mnt/tcpxfer send 10.50.0.1 5001 /tmp/blob; echo G-SEND2-RC $?
            rm /mnt/data.bin; sync
            fstrim -v /mnt; echo G-FSTRIM-RC $?
            umount /mnt; echo G-DONE2
            """;

    private static String launch(LabSession lab, int cpus, List<String> devices, String script) {
        List<String> args = new ArrayList<>(List.of("--kernel", lab.kit().kernel().toString(),
                "--initrd", lab.kit().initrdGuest().toString(), "--memory", "512M", "--cpus", Integer.toString(cpus),
                "--cmdline", "console=ttyS0 quiet panic=-1 " + GuestCommandLine.scriptWord(script)));
        args.addAll(devices);
        // the disks' counters at exit (requests, flushes, most in flight at once) are logged at debug
        return LaunchLabTest.jvmm(List.of("-Dorg.slf4j.simpleLogger.log.dev.jvmm.virtio.blk=debug"), args);
    }

    /** blkdepth.c (a test resource) compiled static on the host, next to its source; L1 sees the host's files. */
    static Path blkdepth() {
        return staticHelper("blkdepth");
    }

    /** NAME.c, a guest helper among the test resources, compiled static on the host next to its source. */
    static Path staticHelper(String name) {
        try {
            Path src = Path.of(VirtioLabTest.class.getResource(name + ".c").toURI());
            Path exe = src.resolveSibling(name);
            Process p = new ProcessBuilder("gcc", "-static", "-O2", "-Wall", "-pthread", "-o", exe.toString(),
                    src.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS) && p.exitValue() == 0,
                    "gcc -static " + name + ".c failed:\n" + out);
            return exe;
        } catch (java.io.IOException | java.net.URISyntaxException e) {
            throw new AssertionError("cannot build " + name, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted building " + name, e);
        }
    }

    static synchronized String run(LabSession lab) {
        if (output != null) {
            return output;
        }
        String mountAndRun = "mount -t ext4 /dev/vda /mnt && cp /mnt/%s /tmp/s.sh && sh /tmp/s.sh";
        Path blkdepth = blkdepth();
        List<String> boot1 = new ArrayList<>(List.of("--disk", "path=disk.img,cache=none,id=jvmm-root",
                "--disk", "path=ro.img,readonly=on,id=jvmm-ro"));
        StringBuilder images = new StringBuilder();
        StringBuilder sums = new StringBuilder();
        for (String[] d : DEPTH_DISKS) {
            boot1.addAll(List.of("--disk", "path=" + d[0] + ".img," + d[1] + ",id=" + d[0]));
            images.append(" ").append(d[0]).append(".img");
            sums.append("echo L1-BLKDEPTH-SUM ").append(d[0]).append(" $(./blkdepth --sum ").append(d[0])
                    .append(".img 64 | cut -d' ' -f3)\n");
        }
        boot1.addAll(List.of("--net", "tap=jt0,mac=52:54:00:00:50:02", "--net", "tap=jt1,mac=52:54:00:00:51:02,queues=2,vhost=on"));
        String script = String.join("\n",
                "set -u",
                "W=$JVMM_LAB_SCRATCH/virtio-lab; rm -rf $W; mkdir -p $W/fs && cd $W",
                "cp " + lab.kit().helper("tcpxfer") + " fs/tcpxfer && cp fs/tcpxfer .",
                "cp " + blkdepth + " fs/blkdepth && cp fs/blkdepth .",
                "for f in" + images + "; do truncate -s 64M $f; done",
                "cat > fs/boot1.sh <<'EOF'\n" + BOOT1 + "EOF",
                "cat > fs/boot2.sh <<'EOF'\n" + BOOT2 + "EOF",
                "truncate -s 256M disk.img && mkfs.ext4 -q -F -d fs disk.img",
                "head -c 16777216 /dev/urandom > ro.img; RO_SHA=$(sha256sum ro.img | cut -d' ' -f1)",
                "ip tuntap add dev jt0 mode tap && ip addr add 10.50.0.1/24 dev jt0 && ip link set jt0 up",
                "ip tuntap add dev jt1 mode tap multi_queue && ip addr add 10.51.0.1/24 dev jt1 && ip link set jt1 up",
                "./tcpxfer recv 5000 recv.bin & RECV=$!",
                "./tcpxfer recv 5001 recv2.bin & RECV2=$!",
                launch(lab, 2, boot1, String.format(mountAndRun, "boot1.sh")) + "; echo L1-BOOT1-RC $?",
                sums.toString().strip(),
                "sleep 1; kill $RECV 2>/dev/null; wait $RECV; echo L1-RECV-RC $?",
                "echo L1-RECV-SHA $(sha256sum recv.bin | cut -d' ' -f1) $(stat -c %s recv.bin)",
                "echo L1-TAPS-AFTER $(ls /sys/class/net | grep -c '^jt')",
                "echo L1-BLOCKS-WRITTEN $(stat -c %b disk.img)",
                launch(lab, 1, List.of("--disk", "path=disk.img,cache=none",
                        "--net", "tap=jt0,mac=52:54:00:00:50:02,vhost=off"), String.format(mountAndRun, "boot2.sh"))
                        + "; echo L1-BOOT2-RC $?",
                "sleep 1; kill $RECV2 2>/dev/null; wait $RECV2",
                "echo L1-RECV2-SHA $(sha256sum recv2.bin | cut -d' ' -f1) $(stat -c %s recv2.bin)",
                "echo L1-BLOCKS-TRIMMED $(stat -c %b disk.img)",
                "echo L1-RO-SAME $([ \"$(sha256sum ro.img | cut -d' ' -f1)\" = \"$RO_SHA\" ] && echo yes || echo no)",
                "ip link del jt0; ip link del jt1; cd /; rm -rf $W");
        CommandResult r = lab.run(script, TIMEOUT);
        output = r.output();
        System.err.printf("[lab] virtio batch (2 L2 boots): %.1f s%n", r.duration().toMillis() / 1000.0);
        output.lines().filter(l -> l.contains("BLKDEPTH") || l.contains("in flight at once") || l.contains(": bd-"))
                .forEach(l -> System.err.println("[lab] " + l));
        return output;
    }

    private static String line(String out, String key) {
        Matcher m = Pattern.compile("(?m)" + key + " ?(.*)$").matcher(out);
        assertTrue(m.find(), key + " missing:\n" + out);
        return m.group(1).strip();
    }

    @Test
    void ext4WrittenInOneBootReadsBackInTheNext(LabSession lab) {
        String out = run(lab);
        assertEquals("0", line(out, "L1-BOOT1-RC"), out);
        assertEquals("0", line(out, "L1-BOOT2-RC"), out);
        String written = line(out, "G-WRITE-SHA");
        assertTrue(written.matches("[0-9a-f]{64}"), out);
        assertEquals(written, line(out, "G-READ-SHA"), "the file read back in boot 2:\n" + out);
        assertEquals("jvmm-root jvmm-ro", line(out, "G-SERIAL"), "GET_ID serials:\n" + out);
    }

    @Test
    void discardInTheGuestShrinksTheImage(LabSession lab) {
        String out = run(lab);
        assertEquals("0", line(out, "G-FSTRIM-RC"), out);
        long written = Long.parseLong(line(out, "L1-BLOCKS-WRITTEN"));
        long trimmed = Long.parseLong(line(out, "L1-BLOCKS-TRIMMED"));
        // 32 MiB = 65536 512-byte blocks were freed by the delete + fstrim; allow for metadata churn
        assertTrue(written - trimmed >= 60000, "allocated blocks " + written + " -> " + trimmed + ":\n" + out);
    }

    @Test
    void theGuestCannotWriteToAReadOnlyDisk(LabSession lab) {
        String out = run(lab);
        assertEquals("1", line(out, "G-VDB-RO"), "the kernel sees VIRTIO_BLK_F_RO:\n" + out);
        assertNotEquals("0", line(out, "G-VDB-WRITE-RC"), out);
        assertNotEquals("0", line(out, "G-VDB-FORCED-WRITE-RC"), "writes fail even after blockdev --setrw:\n" + out);
        assertEquals("yes", line(out, "L1-RO-SAME"), "the read-only image is unchanged:\n" + out);
    }

    @Test
    void sixteenODirectWritersAndReadersCheckEveryBlockInEveryCacheModeOnBothEngines(LabSession lab) {
        String out = run(lab);
        assertEquals("0", line(out, "L1-BOOT1-RC"), out);
        for (String[] d : DEPTH_DISKS) {
            String id = d[0];
            assertEquals("0", line(out, "G-BLKDEPTH-RC " + id), "blkdepth on " + id + " (" + d[1] + "):\n" + out);
            assertTrue(line(out, "G-" + id + " BLKDEPTH-OK").contains("threads=16"), out);
            String guestSum = line(out, "G-" + id + " BLKDEPTH-SUM \\S+");
            assertTrue(guestSum.matches("[0-9a-f]{16}"), id + ": " + guestSum + "\n" + out);
            assertEquals(guestSum, line(out, "L1-BLKDEPTH-SUM " + id),
                    id + ": the image holds what the guest last wrote and flushed:\n" + out);
            // jvmm's own account: the engine the disk got, and that requests really were in flight together
            Matcher plug = Pattern.compile("(?m)(\\S+) at \\S+: (?:\\S*/)?" + id + "\\.img \\((?:raw, )?64 MiB, cache=(\\w+), 1 queue"
                    + "\\(s\\), aio=(\\w+)(.*)\\)\\r?$").matcher(out);
            assertTrue(plug.find(), id + ": no plug line in jvmm's log:\n" + out);
            assertEquals(d[2], plug.group(3), id + " got aio=" + plug.group(3) + plug.group(4));
            Matcher end = Pattern.compile("(?m)" + Pattern.quote(plug.group(1)) + ": (\\d+) requests \\((\\d+) writes, "
                    + "(\\d+) flushes\\), (\\d+) bounced, (\\d+) I/O errors, at most (\\d+) pending and (\\d+) in flight at once")
                    .matcher(out);
            assertTrue(end.find(), id + ": no counters at exit in jvmm's log:\n" + out);
            assertEquals("0", end.group(5), id + ": I/O errors");
            assertTrue(Integer.parseInt(end.group(3)) >= 2, id + ": the two fsyncs reached the device as flushes");
            assertTrue(Integer.parseInt(end.group(7)) >= 4, id + ": at most " + end.group(7)
                    + " requests in flight at once with 16 guest threads:\n" + end.group());
        }
    }

    @Test
    void twoDisksAndTwoNicsInOneVmAndPingOverBoth(LabSession lab) {
        String out = run(lab);
        assertEquals(Integer.toString(2 + DEPTH_DISKS.size()), line(out, "G-DISKS"), out);
        assertTrue(line(out, "G-NICS").matches("\\S+ \\S+"), "both NICs found by MAC:\n" + out);
        assertEquals("0", line(out, "G-PING0-RC"), out);
        assertEquals("0", line(out, "G-PING1-RC"), out);
        assertEquals("2", line(out, "L1-TAPS-AFTER"), "the persistent TAPs jvmm attached to stay after it exits:\n" + out);
    }

    @Test
    void tcpTransferOf64MiBArrivesIntact(LabSession lab) {
        String out = run(lab);
        assertEquals("0", line(out, "G-SEND-RC"), out);
        String sent = line(out, "G-SEND-SHA");
        assertEquals(sent + " 67108864", line(out, "L1-RECV-SHA"), out);
    }

    /**
     * vhost-net (the default where /dev/vhost-net opens, as in L1): both NICs of boot 1 are served by it, the
     * multiqueue one with 2 pairs, and it keeps working after the guest resets the device (an unbind and bind of
     * virtio_net: reset, a new activation) and after a link down/up; boot 2's {@code vhost=off} NIC is the VMM's.
     */
    @Test
    void vhostNetCarriesTheTrafficAndSurvivesTheGuestResettingTheDevice(LabSession lab) {
        String out = run(lab);
        assertTrue(out.contains("virtio-net-0: vhost-net serves 1 queue pair(s), interrupts by irqfd"), out);
        assertTrue(out.contains("virtio-net-1: vhost-net serves 2 queue pair(s), interrupts by irqfd"), out);
        assertTrue(Pattern.compile("virtio-net-0: vhost-net serves").matcher(out).results().count() >= 2,
                "the rebind activated vhost again:\n" + out);
        assertEquals("0", line(out, "G-LINKCYCLE-PING-RC"), out);
        assertEquals("0", line(out, "G-REBIND-PING-RC"), out);
        assertTrue(out.contains("VMM data plane (vhost=off)"), out);
        assertEquals("0", line(out, "G-USERSPACE-PING-RC"), out);
        assertEquals(line(out, "G-SEND2-SHA") + " 16777216", line(out, "L1-RECV2-SHA"), out);
    }

    @Test
    void multiqueueNicShowsTwoQueuePairs(LabSession lab) {
        String out = run(lab);
        assertEquals("2 1", line(out, "G-MQ"), "rx queues of the 2-pair NIC and of the 1-pair NIC:\n" + out);
    }
}

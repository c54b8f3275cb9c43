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
 * <li>boot 1 (2 vCPUs, two disks, two NICs, the second with 2 queue pairs): writes a 32 MiB file on ext4 on
 * {@code vda} and prints its sha256; tries to write the read-only {@code vdb}; pings L1 over both TAPs (vhost-net,
 * the second with 2 queue pairs); sends 64 MiB over TCP to L1; counts the multiqueue NIC's queues; cycles the first
 * NIC's link and rebinds its driver, pinging after each.</li>
 * <li>boot 2 (the same image, and the first TAP with {@code vhost=off}): reads the file back and checks the sha256,
 * pings and sends 16 MiB over the VMM's own data plane, deletes the file and runs {@code fstrim}.</li>
 * </ol>
 * L1 checks what the guest cannot: the received bytes' sha256, the image's allocated blocks before and after the
 * discard, and that the read-only image is unchanged.
 */
@LabTest
class VirtioLabTest {
    private static final Duration TIMEOUT = Duration.ofMinutes(12);
    private static String output;

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
        return LaunchLabTest.jvmm(args);
    }

    static synchronized String run(LabSession lab) {
        if (output != null) {
            return output;
        }
        String mountAndRun = "mount -t ext4 /dev/vda /mnt && cp /mnt/%s /tmp/s.sh && sh /tmp/s.sh";
        String script = String.join("\n",
                "set -u",
                "W=$JVMM_LAB_SCRATCH/virtio-lab; rm -rf $W; mkdir -p $W/fs && cd $W",
                "cp " + lab.kit().helper("tcpxfer") + " fs/tcpxfer && cp fs/tcpxfer .",
                "cat > fs/boot1.sh <<'EOF'\n" + BOOT1 + "EOF",
                "cat > fs/boot2.sh <<'EOF'\n" + BOOT2 + "EOF",
                "truncate -s 256M disk.img && mkfs.ext4 -q -F -d fs disk.img",
                "head -c 16777216 /dev/urandom > ro.img; RO_SHA=$(sha256sum ro.img | cut -d' ' -f1)",
                "ip tuntap add dev jt0 mode tap && ip addr add 10.50.0.1/24 dev jt0 && ip link set jt0 up",
                "ip tuntap add dev jt1 mode tap multi_queue && ip addr add 10.51.0.1/24 dev jt1 && ip link set jt1 up",
                "./tcpxfer recv 5000 recv.bin & RECV=$!",
                "./tcpxfer recv 5001 recv2.bin & RECV2=$!",
                launch(lab, 2, List.of("--disk", "path=disk.img,cache=none,id=jvmm-root",
                        "--disk", "path=ro.img,readonly=on,id=jvmm-ro",
                        "--net", "tap=jt0,mac=52:54:00:00:50:02", "--net", "tap=jt1,mac=52:54:00:00:51:02,queues=2,vhost=on"),
                        String.format(mountAndRun, "boot1.sh")) + "; echo L1-BOOT1-RC $?",
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
    void twoDisksAndTwoNicsInOneVmAndPingOverBoth(LabSession lab) {
        String out = run(lab);
        assertEquals("2", line(out, "G-DISKS"), out);
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

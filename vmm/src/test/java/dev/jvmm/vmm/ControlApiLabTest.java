package dev.jvmm.vmm;

import static dev.jvmm.vmm.LabCli.jvmm;
import static dev.jvmm.vmm.LabCli.line;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
 * Lab tier, issue 14: a running VM driven through its control API ({@code --api-socket}, {@code jvmm remote} and
 * plain HTTP from curl), with the kit's Debian guest and its own drivers. One guest per test: it reads its boot disk
 * all along and waits for each device the test hot-adds, uses it (a file on a disk, a ping through a NIC), and
 * reports when it is gone again. L1 checks the host side after each removal (the TAP jvmm made deleted, the VF's
 * lease released and the VF given back, jvmm's fd count back where it was), then the hostile cases (a paused guest
 * that cannot eject: 504 and the device stays, working; malformed JSON, a missing device, a repeated add: 4xx), pause
 * (the guest's tick counter stops), counters, a reboot (the VM built again from its launch configuration, the API
 * still there), and a shutdown through the ACPI power button that the guest's acpid
 * turns into a poweroff (exit 0, socket removed). The second test is virtio-net failover with UDP streams both ways
 * while the VF is removed and added back.
 */
@LabTest
class ControlApiLabTest {
    private static final String PF = "0000:01:00.0";
    private static final String PFS = "/sys/bus/pci/devices/" + PF;

    /** L1's side: the e1000e as the wire peer of the igb PF, 2 VFs (autoprobe off), and helpers for the script. */
    private static String setUp(LabSession lab) {
        return String.join("\n",
                "set -u; K=" + lab.kit().dir(),
                "EN=$(ls /sys/bus/pci/devices/" + dev.jvmm.lab.L1CommandLine.E1000E_BDF + "/net); ip link set dev $EN up",
                "ip addr add 10.99.0.1/24 dev $EN",
                "P=$(ls " + PFS + "/net); ip link set dev $P up",
                "for i in $(seq 100); do [ \"$(cat /sys/class/net/$P/carrier)$(cat /sys/class/net/$EN/carrier)\" = 11 ] && break; sleep 0.2; done",
                "echo 0 > " + PFS + "/sriov_drivers_autoprobe; echo 2 > " + PFS + "/sriov_numvfs",
                // C METHOD ENDPOINT [JSON]: one API request with curl; prints the body and "HTTP <status>"
                "C() { curl -s --unix-socket $S -X $1 -H 'Content-Type: application/json' ${3:+-d \"$3\"} "
                        + "http://localhost/api/v1/$2 -w \" HTTP %{http_code}\\n\"; }",
                // w PATTERN SECONDS: wait for a line of the guest's console
                // (after a migration the guest's console is the destination's, con2.log)
                "w() { for i in $(seq $(( $2 * 5 ))); do cat con*.log | grep -q \"$1\" && return 0; sleep 0.2; done; "
                        + "echo \"TIMEOUT waiting for $1\"; tail -30 con*.log; return 1; }",
                // jvmm's fds, once the API's last connection is closed; sockets by family (unix, netlink, inet)
                "fds() { sleep 1; ls /proc/$VM/fd | wc -l; }",
                // the API server starts after the vCPUs, on its own: in L1 the guest can be up before it is
                "sock() { for i in $(seq 3000); do [ -S $S ] && return 0; sleep 0.2; done; echo \"TIMEOUT: no socket\"; return 1; }",
                "fdlist() { for f in /proc/$VM/fd/*; do l=$(readlink $f); case $l in socket:*) i=${l#socket:[}; i=${i%]}; "
                        + "t=inet; awk '{print $7}' /proc/net/unix | grep -qx $i && t=unix; "
                        + "awk '{print $NF}' /proc/net/netlink | grep -qx $i && t=netlink; echo socket-$t;; "
                        + "*) echo $l | sed 's/[0-9]\\+/N/g';; esac; done | sort; }");
    }

    private static final String TEAR_DOWN = String.join("; ",
            "EN=$(ls /sys/bus/pci/devices/" + dev.jvmm.lab.L1CommandLine.E1000E_BDF + "/net)",
            "ip addr del 10.99.0.1/24 dev $EN", "ip link del jhp0 2>/dev/null",
            "for v in " + PFS + "/virtfn*; do [ -e $v/driver ] && echo $(basename $(readlink -f $v)) > $v/driver/unbind; "
                    + "echo > $v/driver_override; done",
            "echo 0 > " + PFS + "/sriov_numvfs; echo 1 > " + PFS + "/sriov_drivers_autoprobe",
            "rm -rf /run/jvmm/leases", "true");

    private static String launch(LabSession lab, String extra) {
        return jvmm("launch", "--kernel", lab.kit().kernel().toString(), "--initrd", lab.kit().initrdGuest().toString(),
                "--memory", "512M", "--disk", "path=d1.img", "--api-socket", "API_SOCKET", "--cmdline",
                "console=ttyS0 panic=-1 " + GuestCommandLine.scriptWord("mount -t ext4 /dev/vda /mnt && sh /mnt/guest.sh"))
                .replace("API_SOCKET", "\"$S\"") + " " + extra + " > con.log 2>&1 & VM=$!";
    }

    /**
     * Hot-add and hot-remove of a virtio-blk disk (while the guest reads its boot disk), a virtio-net NIC on a TAP
     * jvmm creates, and an igb VF from the pool; then the API's other verbs and its hostile cases, in one guest.
     */
    @Test
    void apiHotplugAndHostileInput(LabSession lab) {
        String guest = """
                echo GUEST-START slots=$(ls /sys/bus/pci/slots | wc -l)
                (while :; do dd if=/dev/vda of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null; sleep 0.2; done) &
                (i=0; while :; do echo TICK $i; i=$((i+1)); sleep 0.5; done) &
                byaddr() { for n in /sys/class/net/*; do [ "$(cat $n/address)" = $1 ] && basename $n; done; }
                for i in $(seq 1500); do [ -b /dev/vdb ] && break; sleep 0.2; done
                mkdir -p /m2; mount -t ext4 /dev/vdb /m2 && X=$(cat /m2/hot.txt); umount /m2; echo GUEST-HOTDISK $X
                for i in $(seq 1500); do [ -b /dev/vdb ] || break; sleep 0.2; done; echo GUEST-HOTDISK-GONE $(ls /dev/vd*)
                for i in $(seq 1500); do N=$(byaddr 52:54:00:00:14:02); [ -n "$N" ] && break; sleep 0.2; done
                ip link set dev $N up; ip addr add 10.95.0.2/24 dev $N
                for i in $(seq 100); do [ "$(cat /sys/class/net/$N/carrier)" = 1 ] && break; sleep 0.1; done
                ping -c 2 -W 10 10.95.0.1 > /tmp/p 2>&1; echo GUEST-HOTNET $N $(basename $(readlink /sys/class/net/$N/device/driver)) ping-rc=$?
                for i in $(seq 1500); do [ -e /sys/class/net/$N ] || break; sleep 0.2; done; echo GUEST-HOTNET-GONE
                for i in $(seq 1500); do N=$(byaddr 52:54:00:00:14:03); [ -n "$N" ] && break; sleep 0.2; done
                ip link set dev $N up; ip addr add 10.99.0.13/24 dev $N
                for i in $(seq 150); do [ "$(cat /sys/class/net/$N/carrier)" = 1 ] && break; sleep 0.1; done
                ping -c 2 -W 10 10.99.0.1 > /tmp/p 2>&1; echo GUEST-HOTVF $N $(basename $(readlink /sys/class/net/$N/device/driver)) ping-rc=$?
                for i in $(seq 1500); do [ -e /sys/class/net/$N ] || break; sleep 0.2; done; echo GUEST-HOTVF-GONE
                sleep 3600
                """;
        String remote = LabCli.remote("--api-socket", "API_SOCKET").replace("API_SOCKET", "\"$S\"");
        try {
            CommandResult r = lab.run(String.join("\n",
                    setUp(lab),
                    "W=$JVMM_LAB_SCRATCH/api; rm -rf $W; mkdir -p $W/fs $W/fs2 && cd $W; S=$W/api.sock",
                    "cat > fs/guest.sh <<'EOF'\n" + guest + "EOF",
                    "echo hot-disk-content > fs2/hot.txt",
                    "truncate -s 64M d1.img && mkfs.ext4 -q -F -d fs d1.img && truncate -s 16M d2.img && mkfs.ext4 -q -F -d fs2 d2.img",
                    launch(lab, ""),
                    "w GUEST-START 600 && sock || { kill $VM; exit 1; }",
                    "echo SOCKET-MODE $(stat -c %a $S)",
                    "echo INFO-1 $(" + remote + " info | tr -d ' \\n')",
                    "FD0=$(fds); fdlist > fd0.txt",
                    "C GET vm.counters > c1.json",
                    // a disk, while the guest reads vda
                    remote + " add-disk path=d2.img > add.json; echo ADD-DISK rc=$? $(tr -d ' \\n' < add.json)",
                    "w GUEST-HOTDISK 300; echo REMOVE-DISK $(C PUT vm.remove-device '{\"id\":\"virtio-blk-1\",\"timeout_s\":120}')",
                    "w GUEST-HOTDISK-GONE 300",
                    // a NIC on a TAP jvmm creates
                    "echo ADD-NET $(C PUT vm.add-net '{\"tap\":\"jhp0\",\"mac\":\"52:54:00:00:14:02\"}')",
                    "ip addr add 10.95.0.1/24 dev jhp0; ip link set jhp0 up",
                    "w GUEST-HOTNET 300; echo REMOVE-NET $(C PUT vm.remove-device '{\"id\":\"virtio-net-0\",\"timeout_s\":120}')",
                    "w GUEST-HOTNET-GONE 300; echo TAP-AFTER $(ip -o link show jhp0 2>/dev/null | wc -l)",
                    // a VF of the igb PF, from the pool
                    "echo ADD-NIC $(C PUT vm.add-nic \"{\\\"id\\\":\\\"hv0\\\",\\\"mode\\\":\\\"passthrough\\\",\\\"pf\\\":\\\"$P\\\","
                            + "\\\"mac\\\":\\\"52:54:00:00:14:03\\\"}\" | tr -d ' \\n')",
                    "echo LEASES-WITH-VF $(ls /run/jvmm/leases/" + PF + "/ 2>/dev/null | grep -c json)",
                    // a VM with a plain VF can be neither migrated nor snapshotted: refused before anything starts
                    "echo MIGRATE-VF $(C PUT vm.send-migration '{\"destination\":\"unix:/tmp/nowhere.sock\"}')",
                    "echo SNAPSHOT-VF $(C PUT vm.snapshot \"{\\\"destination\\\":\\\"$W/snap-vf\\\"}\") $(ls $W/snap-vf 2>/dev/null | wc -l)",
                    "w GUEST-HOTVF 300; echo REMOVE-NIC $(C PUT vm.remove-device '{\"id\":\"hv0\",\"timeout_s\":120}')",
                    "w GUEST-HOTVF-GONE 300",
                    "echo LEASES-AFTER $(ls /run/jvmm/leases/" + PF + "/ 2>/dev/null | grep -c json)"
                            + " VF0-DRIVER $(basename $(readlink " + PFS + "/virtfn0/driver) 2>/dev/null || echo none)",
                    "FD1=$(fds); echo FDS $FD0 $FD1; fdlist > fd1.txt; diff fd0.txt fd1.txt | sed 's/^/FD-DIFF /'",
                    // hostile: a paused guest does not eject; the request times out, is withdrawn, the disk stays
                    "C PUT vm.pause; sleep 1; echo PAUSED-REMOVE $(C PUT vm.remove-device '{\"id\":\"virtio-blk-0\",\"timeout_s\":3}')",
                    "A=$(grep -c TICK con.log); sleep 3; B=$(grep -c TICK con.log); C PUT vm.resume; sleep 3; D=$(grep -c TICK con.log)",
                    "echo TICKS $A $B $D",
                    "echo INFO-2 $(C GET vm.info | tr -d ' \\n')",
                    "echo BAD-JSON $(C PUT vm.add-disk '{\"path\": ')",
                    "echo BAD-ID $(C PUT vm.remove-device '{\"id\":\"nosuch\"}')",
                    "echo BAD-REPEAT $(C PUT vm.add-disk '{\"path\":\"d1.img\"}')",
                    "echo BAD-KEY $(C PUT vm.add-disk '{\"path\":\"d2.img\",\"colour\":\"red\"}')",
                    "echo BAD-VFIO $(C PUT vm.add-device '{\"vfio\":\"0000:99:00.0\"}')",
                    "echo BAD-PATH $(C GET vm.nothing)",
                    "echo BAD-PAUSE $(C PUT vm.resume)",
                    "FD2=$(fds); echo FDS-HOSTILE $FD0 $FD2",
                    "C GET vm.counters > c2.json",
                    "blkbytes() { tr -d ' \\n' < $1 | grep -o '\"virtio-blk-0\":{\"bdf\":\"[^\"]*\",\"chains\":[0-9]*,"
                            + "\"bytes_read\":[0-9]*,\"bytes_written\":[0-9]*' | grep -o '[0-9]*$'; }",
                    "echo BLK-BYTES $(blkbytes c1.json) $(blkbytes c2.json)",
                    // a reboot builds the VM again from its launch configuration; the API stays
                    "echo REBOOT $(C PUT vm.reboot)",
                    "for i in $(seq 3000); do [ $(grep -c GUEST-START con.log) -ge 2 ] && break; sleep 0.2; done",
                    "echo INFO-3 $(C GET vm.info | tr -d ' \\n' | grep -o '\"boots\":[0-9]*,.*\"devices\":\\[[^]]*\\]')",
                    "echo SHUTDOWN $(" + remote + " shutdown timeout=120; echo rc=$?)",
                    "wait $VM; echo LAUNCH-RC $?",
                    "echo SOCKET-AFTER $(ls $S 2>/dev/null | wc -l)",
                    "grep -E 'GUEST-|JVMM-LAB: power-button|jvmm:|WARN|ERROR|eject|hot-added' con.log | grep -v TICK",
                    "cd /; rm -rf $W"), Duration.ofMinutes(20));
            String out = r.output();
            System.out.println("[api-e2e] hotplug and API:\n" + out);
            assertEquals("600", line(out, "SOCKET-MODE"), out);
            assertTrue(line(out, "GUEST-START").matches("slots=31"), "acpiphp registered slots 1..31:\n" + out);
            String info1 = line(out, "INFO-1");
            assertTrue(info1.contains("\"state\":\"running\"") && info1.contains("\"id\":\"virtio-blk-0\",\"kind\":\"virtio-blk\","
                    + "\"bdf\":\"0000:00:01.0\""), info1);
            assertTrue(line(out, "ADD-DISK").matches("rc=0 \\{.*\"id\":\"virtio-blk-1\".*\\}"), out);
            assertEquals("hot-disk-content", line(out, "GUEST-HOTDISK"), out);
            assertEquals("HTTP 204", line(out, "REMOVE-DISK"), out);
            assertEquals("/dev/vda", line(out, "GUEST-HOTDISK-GONE"), out);
            assertTrue(line(out, "ADD-NET").endsWith("HTTP 200") && line(out, "ADD-NET").contains("virtio-net-0"), out);
            assertTrue(line(out, "GUEST-HOTNET").matches("\\S+ virtio_net ping-rc=0"), out);
            assertEquals("HTTP 204", line(out, "REMOVE-NET"), out);
            assertEquals("0", line(out, "TAP-AFTER"), "the TAP jvmm made is deleted:\n" + out);
            assertTrue(line(out, "ADD-NIC").contains("\"choice\":\"passthrough\"") && line(out, "ADD-NIC").endsWith("HTTP200"),
                    out);
            assertEquals("1", line(out, "LEASES-WITH-VF"), out);
            assertStatus(out, "MIGRATE-VF", 409, "is a passed-through function");
            String snapVf = line(out, "SNAPSHOT-VF");
            assertTrue(snapVf.matches(".*passed-through function.*HTTP 409 0"), "refused, nothing written:\n" + out);
            assertTrue(line(out, "GUEST-HOTVF").matches("\\S+ igbvf ping-rc=0"), out);
            assertEquals("HTTP 204", line(out, "REMOVE-NIC"), out);
            assertEquals("0 VF0-DRIVER none", line(out, "LEASES-AFTER"), "the VF's lease released, the VF given back:\n"
                    + out);
            String[] fds = line(out, "FDS").split(" ");
            assertEquals(fds[0], fds[1], "jvmm's fds after three hot-adds and removals:\n" + out);
            String paused = line(out, "PAUSED-REMOVE");
            assertTrue(paused.endsWith("HTTP 504") && paused.contains("did not eject it within 3 s")
                    && paused.contains("withdrawn"), out);
            String[] ticks = line(out, "TICKS").split(" ");
            assertEquals(ticks[0], ticks[1], "no guest tick while paused:\n" + out);
            assertTrue(Integer.parseInt(ticks[2]) > Integer.parseInt(ticks[1]), "ticks again after resume:\n" + out);
            assertTrue(line(out, "INFO-2").contains("\"id\":\"virtio-blk-0\""), "the disk stayed:\n" + out);
            assertStatus(out, "BAD-JSON", 400, "malformed JSON");
            assertStatus(out, "BAD-ID", 404, "no device \\\"nosuch\\\"");
            assertStatus(out, "BAD-REPEAT", 409, "already attached as virtio-blk-0");
            assertStatus(out, "BAD-KEY", 400, "unknown key \\\"colour\\\"");
            assertStatus(out, "BAD-VFIO", 400, "0000:99:00.0");
            assertStatus(out, "BAD-PATH", 404, "vm.nothing");
            assertStatus(out, "BAD-PAUSE", 409, "not paused");
            String[] fds2 = line(out, "FDS-HOSTILE").split(" ");
            assertEquals(fds2[0], fds2[1], "no fd left by the refused requests:\n" + out);
            String[] bytes = line(out, "BLK-BYTES").split(" ");
            assertTrue(Long.parseLong(bytes[1]) > Long.parseLong(bytes[0]) && Long.parseLong(bytes[0]) > 0,
                    "virtio-blk-0 kept serving the guest's reads:\n" + out);
            assertEquals("HTTP 204", line(out, "REBOOT"), out);
            String info3 = line(out, "INFO-3");
            assertTrue(info3.startsWith("\"boots\":2,") && info3.contains("\"id\":\"virtio-blk-0\"")
                    && !info3.contains("virtio-blk-1"), "rebooted from the launch configuration:\n" + out);
            assertEquals("rc=0", line(out, "SHUTDOWN"), out);
            assertTrue(out.contains("JVMM-LAB: power-button"), "the guest's acpid saw the power button:\n" + out);
            assertEquals("0", line(out, "LAUNCH-RC"), out);
            assertEquals("0", line(out, "SOCKET-AFTER"), "the socket is removed at exit:\n" + out);
        } finally {
            lab.run(TEAR_DOWN, Duration.ofMinutes(2));
        }
    }

    private static void assertStatus(String out, String key, int status, String contains) {
        String l = line(out, key);
        assertTrue(l.endsWith("HTTP " + status) && l.contains(contains), key + ": expected " + status + " naming '"
                + contains + "', got: " + l);
    }

    /**
     * virtio-net failover ({@code --nic ...,failover=on}): the guest's net_failover bonds the standby virtio-net with
     * the VF jvmm hot-plugs once STANDBY is negotiated; UDP sequence streams run both ways while the VF is removed
     * (traffic moves to the standby) and added back (it moves back); each side reports what it lost and its longest
     * gap, and pings go through after both events.
     */
    @Test
    void failoverKeepsTrafficThroughVfRemoval(LabSession lab) {
        String guest = """
                echo GUEST-START
                for i in $(seq 1500); do [ "$(ls -d /sys/class/net/*/lower_* 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.2; done
                M=$(for n in /sys/class/net/*; do ls -d $n/lower_* > /dev/null 2>&1 && basename $n; done)
                echo GUEST-FAILOVER master=$M $(for l in /sys/class/net/$M/lower_*; do s=${l##*/lower_}; echo $s:$(basename $(readlink /sys/class/net/$s/device/driver)); done)
                ip link set dev $M up; ip addr add 10.99.0.21/24 dev $M
                for l in /sys/class/net/$M/lower_*; do ip link set dev ${l##*/lower_} up; done
                for i in $(seq 150); do [ "$(cat /sys/class/net/$M/carrier)" = 1 ] && break; sleep 0.1; done
                ping -c 2 -W 10 10.99.0.1 > /tmp/p 2>&1; echo GUEST-PING1 rc=$?
                /mnt/udpseq send 10.99.0.1 5401 2000 70 2> /tmp/s.txt &
                /mnt/udpseq recv 5402 100 > /tmp/r.txt
                echo GUEST-RECV $(cat /tmp/r.txt)
                ping -c 2 -W 10 10.99.0.1 > /tmp/p 2>&1; echo GUEST-PING2 rc=$?
                echo GUEST-DONE
                mkfifo /tmp/tf
                (i=0; while [ ! -e /tmp/stop ]; do echo $i; i=$((i+1)); sleep 0.05; done; echo END $i) > /tmp/tf &
                /mnt/tcpxfer send 10.99.0.1 5405 /tmp/tf 2> /tmp/t.txt &
                /mnt/udpseq send 10.99.0.1 5403 2000 80 2> /tmp/s2.txt &
                echo GUEST-PHASE2
                /mnt/udpseq recv 5404 110 > /tmp/r2.txt
                touch /tmp/stop; wait
                echo GUEST-RECV2 $(cat /tmp/r2.txt)
                ping -c 2 -W 10 10.99.0.1 > /tmp/p 2>&1; echo GUEST-PING3 rc=$?
                echo GUEST-TCP $(cat /tmp/t.txt)
                echo GUEST-DONE2
                sleep 3600
                """;
        String incoming = jvmm("launch", "--incoming", "unix:@MIG@", "--api-socket", "@S2@")
                .replace("@MIG@", "$W/mig.sock").replace("@S2@", "$W/api2.sock");
        try {
            CommandResult r = lab.run(String.join("\n",
                    setUp(lab),
                    "W=$JVMM_LAB_SCRATCH/failover; rm -rf $W; mkdir -p $W/fs && cd $W; S=$W/api.sock",
                    "cat > fs/guest.sh <<'EOF'\n" + guest + "EOF",
                    "cp $K/bin/udpseq $K/bin/tcpxfer fs/ && cp $K/bin/udpseq $K/bin/tcpxfer . && truncate -s 64M d1.img && mkfs.ext4 -q -F -d fs d1.img",
                    "./udpseq recv 5401 300 > l1recv.txt & RCV=$!",
                    launch(lab, "--nic \"id=eth0,pf=$P,failover=on,mac=52:54:00:00:15:01\""),
                    "w GUEST-PING1 900 && sock || { kill $VM $RCV; exit 1; }",
                    "echo INFO-START $(C GET vm.info | tr -d ' \\n' | grep -o '\"failover\":{[^}]*}')",
                    "./udpseq send 10.99.0.21 5402 2000 70 2> l1send.txt &",
                    "sleep 15",
                    "PRIM=$(C GET vm.info | grep -o '\"primary\": \"vfio-[0-9]*\"' | head -1 | cut -d'\"' -f4)",
                    "echo REMOVE-PRIMARY $PRIM $(C PUT vm.remove-device \"{\\\"id\\\":\\\"$PRIM\\\",\\\"timeout_s\\\":120}\")",
                    "echo INFO-REMOVED $(C GET vm.info | tr -d ' \\n' | grep -o '\"failover\":{[^}]*}')",
                    "echo LEASES-REMOVED $(ls /run/jvmm/leases/" + PF + "/ 2>/dev/null | grep -c json)",
                    "sleep 15",
                    "echo ADD-PRIMARY $(C PUT vm.add-nic '{\"id\":\"eth0\"}' | tr -d ' \\n')",
                    "sleep 20",
                    "echo INFO-READDED $(C GET vm.info | tr -d ' \\n' | grep -o '\"failover\":{[^}]*}')",
                    "w GUEST-DONE 600",
                    "wait $RCV; echo L1-RECV $(cat l1recv.txt)",
                    // the pair migrates to a second jvmm in this L1: the source unplugs its VF, the guest goes on
                    // over the standby, the destination plugs a VF of its own pool (the other one) once it runs
                    "./tcpxfer recv 5405 tcp.out 2> tcprecv.txt & TCPR=$!",
                    "./udpseq recv 5403 300 > l1recv2.txt & RCV2=$!",
                    "w GUEST-PHASE2 300",
                    "./udpseq send 10.99.0.21 5404 2000 80 2> l1send2.txt &",
                    incoming + " > con2.log 2>&1 & VM2=$!",
                    "for i in $(seq 1500); do [ -S $W/mig.sock ] && break; sleep 0.2; done; sleep 5",
                    "echo MIGRATE $(C PUT vm.send-migration \"{\\\"destination\\\":\\\"unix:$W/mig.sock\\\"}\" | tr -d ' \\n')",
                    "wait $VM; echo SOURCE-RC $?",
                    "S=$W/api2.sock; sock",
                    "for i in $(seq 600); do C GET vm.info | tr -d ' \\n' | grep -q '\"active\":\"primary\"' && break; sleep 0.5; done",
                    "echo INFO-MIGRATED $(C GET vm.info | tr -d ' \\n' | grep -o '\"failover\":{[^}]*}')",
                    "w GUEST-DONE2 600",
                    "wait $RCV2; echo L1-RECV2 $(cat l1recv2.txt)",
                    "wait $TCPR; echo TCP-RESULT $(awk 'BEGIN{n=0;ok=1} $1==\"END\"{e=$2; exit} {if ($1!=n) ok=0; n++} "
                            + "END{print \"lines=\" n \" end=\" e \" inorder=\" ok}' tcp.out)",
                    "C PUT vm.power-off; wait $VM2; echo LAUNCH-RC $?",
                    "echo LEASES-END $(ls /run/jvmm/leases/" + PF + "/ 2>/dev/null | grep -c json) LINKS-END $(ip -o link | grep -c mvt)",
                    "cat con.log con2.log | grep -E 'GUEST-|jvmm:|WARN|ERROR|failover|eject|STANDBY|migrat' | grep -v TICK",
                    "cd /; rm -rf $W"), Duration.ofMinutes(20));
            String out = r.output();
            System.out.println("[api-e2e] failover:\n" + out);
            assertTrue(Pattern.compile("master=(\\S+) (\\S+:virtio_net \\S+:igbvf|\\S+:igbvf \\S+:virtio_net)")
                    .matcher(line(out, "GUEST-FAILOVER")).matches(), "one failover netdev, a VF and a virtio-net below it:\n" + out);
            assertTrue(out.contains("failover primary slave"), "the guest's net_failover took the VF as primary:\n" + out);
            assertEquals("rc=0", line(out, "GUEST-PING1"), out);
            assertTrue(line(out, "INFO-START").contains("\"active\":\"primary\""), out);
            assertTrue(line(out, "REMOVE-PRIMARY").matches("vfio-\\d+ HTTP 204"), out);
            assertTrue(line(out, "INFO-REMOVED").contains("\"primary\":null") && line(out, "INFO-REMOVED")
                    .contains("\"active\":\"standby\""), out);
            assertEquals("0", line(out, "LEASES-REMOVED"), "the removed primary's VF went back to the pool:\n" + out);
            assertTrue(line(out, "ADD-PRIMARY").contains("\"choice\":\"failover\"") && line(out, "ADD-PRIMARY").endsWith("HTTP200"),
                    out);
            assertTrue(line(out, "INFO-READDED").contains("\"active\":\"primary\""), out);
            Matcher toGuest = UDP.matcher(line(out, "GUEST-RECV"));
            Matcher toL1 = UDP.matcher(line(out, "L1-RECV"));
            assertTrue(toGuest.find() && toL1.find(), out);
            System.out.printf("[api-e2e] failover with removal and re-add: L1->guest lost %s of %s, longest gap %s ms; "
                    + "guest->L1 lost %s of %s, longest gap %s ms%n", toGuest.group(3), toGuest.group(2), toGuest.group(4),
                    toL1.group(3), toL1.group(2), toL1.group(4));
            assertTrue(Long.parseLong(toGuest.group(1)) > 0 && Long.parseLong(toL1.group(1)) > 0, out);
            assertEquals("rc=0", line(out, "GUEST-PING2"), "traffic goes on after both events:\n" + out);
            // the migration of the pair
            String mig = line(out, "MIGRATE");
            assertTrue(mig.contains("\"failover_primaries_unplugged\":[\"eth0\"]") && mig.endsWith("HTTP200"), out);
            assertEquals("0", line(out, "SOURCE-RC"), "the source exits 0 after the migration:\n" + out);
            assertTrue(out.contains("unplugging failover primary"), out);
            String after = line(out, "INFO-MIGRATED");
            assertTrue(after.contains("\"active\":\"primary\"") && after.contains("\"standby_negotiated\":true"),
                    "the destination plugged a VF of its own as the primary:\n" + out);
            Matcher toGuest2 = UDP.matcher(line(out, "GUEST-RECV2"));
            Matcher toL12 = UDP.matcher(line(out, "L1-RECV2"));
            assertTrue(toGuest2.find() && toL12.find(), out);
            System.out.printf("[api-e2e] failover pair migrated (%s): L1->guest lost %s of %s, longest gap %s ms; "
                    + "guest->L1 lost %s of %s, longest gap %s ms; TCP %s%n", mig, toGuest2.group(3), toGuest2.group(2),
                    toGuest2.group(4), toL12.group(3), toL12.group(2), toL12.group(4), line(out, "TCP-RESULT"));
            assertTrue(Long.parseLong(toGuest2.group(1)) > 0 && Long.parseLong(toL12.group(1)) > 0, out);
            assertTrue(line(out, "TCP-RESULT").matches("lines=(\\d+) end=\\1 inorder=1.*") && !line(out, "TCP-RESULT")
                    .startsWith("lines=0 "), "the TCP stream across the migration arrived whole and in order:\n" + out);
            assertEquals("rc=0", line(out, "GUEST-PING3"), "ping after the migration:\n" + out);
            assertEquals("0", line(out, "LAUNCH-RC"), out);
            assertEquals("0 LINKS-END 0", line(out, "LEASES-END"), out);
            assertFalse(out.contains("releasing its"), "every VF was given back cleanly:\n" + out);
        } finally {
            lab.run(TEAR_DOWN, Duration.ofMinutes(2));
        }
    }

    private static final Pattern UDP = Pattern.compile("received (\\d+) of (\\d+) sent, lost (\\d+), duplicates \\d+, "
            + "reordered \\d+, longest gap ([0-9.]+) ms");
}

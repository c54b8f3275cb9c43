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
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Lab tier, issue 13's mixed launch with the guest's own drivers: {@code --nic} in each mode, planned, taken from
 * the igb PF's VF pool and given back; the fallbacks and their reasons; two VMs at once; SIGTERM and SIGKILL.
 * L1's end of the wire is its e1000e (10.99.0.1 for the VFs, 10.96.0.1 for macvtaps over the igb PF); a TAP and a
 * bridge in L1 have their own subnets.
 */
@LabTest
class NicLaunchLabTest {
    private static final Duration T = Duration.ofMinutes(5);
    private static final String PF = "0000:01:00.0";
    private static final String PFS = "/sys/bus/pci/devices/" + PF;



    /** L1's side: the wire peer on the e1000e, VFs on the igb PF (autoprobe off), a TAP and a bridge. */
    private static String setUp(int vfs) {
        return String.join("\n",
                "EN=$(ls /sys/bus/pci/devices/" + dev.jvmm.lab.L1CommandLine.E1000E_BDF + "/net); ip link set dev $EN up",
                "ip addr add 10.99.0.1/24 dev $EN; ip addr add 10.96.0.1/24 dev $EN",
                "P=$(ls " + PFS + "/net); ip link set dev $P up",
                "for i in $(seq 100); do [ \"$(cat /sys/class/net/$P/carrier)$(cat /sys/class/net/$EN/carrier)\" = 11 ] && break; sleep 0.2; done",
                "echo 0 > " + PFS + "/sriov_drivers_autoprobe; echo " + vfs + " > " + PFS + "/sriov_numvfs",
                "ip tuntap add dev jnt0 mode tap vnet_hdr; ip addr add 10.98.0.1/24 dev jnt0; ip link set jnt0 up",
                "ip link add jnbr0 type bridge; ip addr add 10.97.0.1/24 dev jnbr0; ip link set jnbr0 up");
    }

    private static final String TEAR_DOWN = String.join("; ",
            "EN=$(ls /sys/bus/pci/devices/" + dev.jvmm.lab.L1CommandLine.E1000E_BDF + "/net)",
            "ip addr del 10.99.0.1/24 dev $EN; ip addr del 10.96.0.1/24 dev $EN",
            "ip link del jnt0; ip link del jnbr0",
            "for v in " + PFS + "/virtfn*; do [ -e $v/driver ] && echo $(basename $(readlink -f $v)) > $v/driver/unbind; "
                    + "echo > $v/driver_override; done",
            "echo 0 > " + PFS + "/sriov_numvfs; echo 1 > " + PFS + "/sriov_drivers_autoprobe",
            "rm -rf /run/jvmm/leases", "true");

    /**
     * One guest, four NICs and a disk: eth0 mode=auto on the PF (a VF: IOMMU ready, free VFs), eth1 virtio on a
     * macvtap over the PF, eth2 virtio on L1's TAP jnt0, eth3 virtio on a TAP jvmm puts into bridge jnbr0. The guest
     * sees igbvf and three virtio_net, pings L1 on each path, and moves 8 MiB over TCP through the VF and through
     * the macvtap. Afterwards: the VF is reset and released, the macvtap and jvmm's TAP are gone.
     */
    @Test
    void oneGuestWithAVfAMacvtapATapAndABridge(LabSession lab) {
        String guest = """
                for m in 01 02 03 04; do for n in /sys/class/net/*; do [ "$(cat $n/address)" = 52:54:00:00:13:$m ] && eval N$m=$(basename $n); done; done
                for x in "$N01 10.99.0.11 10.99.0.1" "$N02 10.96.0.12 10.96.0.1" "$N03 10.98.0.2 10.98.0.1" "$N04 10.97.0.2 10.97.0.1"; do
                  set -- $x; ip link set dev $1 up; ip addr add $2/24 dev $1
                done
                for x in "$N01 10.99.0.1" "$N02 10.96.0.1" "$N03 10.98.0.1" "$N04 10.97.0.1"; do
                  set -- $x
                  for i in $(seq 100); do [ "$(cat /sys/class/net/$1/carrier 2>/dev/null)" = 1 ] && break; sleep 0.1; done
                  ping -c 2 -W 10 $2 > /tmp/p 2>&1; echo GUEST-NIC $1 $(cat /sys/class/net/$1/address) $(basename $(readlink /sys/class/net/$1/device/driver)) ping-rc=$?
                done
                dd if=/dev/urandom of=/tmp/blob bs=1M count=8 2>/dev/null
                echo GUEST-SHA $(sha256sum /tmp/blob | cut -d' ' -f1)
                /mnt/tcpxfer send 10.99.0.1 5301 /tmp/blob; echo GUEST-VF-SEND-RC $?
                /mnt/tcpxfer send 10.96.0.1 5302 /tmp/blob; echo GUEST-MACVTAP-SEND-RC $?
                echo GUEST-DISK $(cat /mnt/hello.txt)
                """;
        try {
            CommandResult r = lab.run(String.join("\n",
                    "set -u; W=$JVMM_LAB_SCRATCH/nic; rm -rf $W; mkdir -p $W/fs && cd $W",
                    "cp " + lab.kit().helper("tcpxfer") + " fs/tcpxfer && cp fs/tcpxfer .",
                    "cat > fs/guest.sh <<'EOF'\n" + guest + "EOF",
                    "echo hello-from-the-disk > fs/hello.txt",
                    "truncate -s 64M disk.img && mkfs.ext4 -q -F -d fs disk.img",
                    setUp(2),
                    "./tcpxfer recv 5301 vf.bin & R1=$!; ./tcpxfer recv 5302 mvt.bin & R2=$!",
                    jvmm("launch", "--kernel", lab.kit().kernel().toString(), "--initrd", lab.kit().initrdGuest().toString(),
                            "--memory", "512M", "--disk", "path=disk.img",
                            "--nic", "id=eth0,pf=$P,mac=52:54:00:00:13:01",
                            "--nic", "id=eth1,mode=virtio,pf=$P,mac=52:54:00:00:13:02",
                            "--nic", "id=eth2,mode=virtio,tap=jnt0,mac=52:54:00:00:13:03",
                            "--nic", "id=eth3,mode=virtio,bridge=jnbr0,mac=52:54:00:00:13:04",
                            "--cmdline", "console=ttyS0 quiet panic=-1 " + GuestCommandLine.scriptWord(
                                    "mount -t ext4 /dev/vda /mnt && sh /mnt/guest.sh")).replace("'id=eth0,pf=$P,", "\"id=eth0,pf=$P,")
                            .replace("mac=52:54:00:00:13:01'", "mac=52:54:00:00:13:01\"")
                            .replace("'id=eth1,mode=virtio,pf=$P,", "\"id=eth1,mode=virtio,pf=$P,")
                            .replace("mac=52:54:00:00:13:02'", "mac=52:54:00:00:13:02\"") + " 2>&1; echo L1-LAUNCH-RC $?",
                    "sleep 1; kill $R1 $R2 2>/dev/null; wait $R1 $R2",
                    "echo L1-RECV $(sha256sum vf.bin | cut -d' ' -f1) $(sha256sum mvt.bin | cut -d' ' -f1)",
                    "echo L1-VF0 $(ip link show dev $P | grep 'vf 0 ' | grep -o 'link/ether [0-9a-f:]*') "
                            + "$(basename $(readlink " + PFS + "/virtfn0/driver) 2>/dev/null || echo no-driver)",
                    "echo L1-LEASES $(ls /run/jvmm/leases/" + PF + "/ 2>/dev/null | grep -c json)",
                    "echo L1-LINKS $(ip -o link | grep -c -E 'mvt[0-9]+n|jvmmtap')",
                    "cd /; rm -rf $W"), Duration.ofMinutes(8));
            String out = r.output();
            System.out.println("[nic-e2e] four NICs:\n" + out);
            assertEquals("0", line(out, "L1-LAUNCH-RC"), out);
            assertTrue(out.contains("jvmm: eth0: VF of " ), out);
            assertTrue(Pattern.compile("jvmm: eth0: VF of \\S+ \\(passthrough: IOMMU ready, 2 free VFs\\)").matcher(out).find(), out);
            assertTrue(Pattern.compile("jvmm: eth1: virtio-net on macvtap over \\S+ \\(mode=virtio\\)").matcher(out).find(), out);
            assertTrue(out.contains("jvmm: eth0: took VF 0000:01:10.0 (VF 0 of "), out);
            List<String> nics = Pattern.compile("(?m)^GUEST-NIC (.*)$").matcher(out).results().map(m -> m.group(1)).toList();
            assertEquals(4, nics.size(), out);
            assertTrue(nics.get(0).matches("\\S+ 52:54:00:00:13:01 igbvf ping-rc=0"), nics.toString());
            assertTrue(nics.get(1).matches("\\S+ 52:54:00:00:13:02 virtio_net ping-rc=0"), nics.toString());
            assertTrue(nics.get(2).matches("\\S+ 52:54:00:00:13:03 virtio_net ping-rc=0"), nics.toString());
            assertTrue(nics.get(3).matches("\\S+ 52:54:00:00:13:04 virtio_net ping-rc=0"), nics.toString());
            assertEquals("0", line(out, "GUEST-VF-SEND-RC"), out);
            assertEquals("0", line(out, "GUEST-MACVTAP-SEND-RC"), out);
            String sha = line(out, "GUEST-SHA");
            assertEquals(sha + " " + sha, line(out, "L1-RECV"), "8 MiB through the VF and through the macvtap:\n" + out);
            assertEquals("hello-from-the-disk", line(out, "GUEST-DISK"), out);
            assertEquals("link/ether 00:00:00:00:00:00 no-driver", line(out, "L1-VF0"), "the VF reset and given back:\n" + out);
            assertEquals("0", line(out, "L1-LEASES"), out);
            assertEquals("0", line(out, "L1-LINKS"), "no macvtap or jvmm TAP left:\n" + out);
        } finally {
            lab.run(TEAR_DOWN, T);
        }
    }

    /**
     * The rest of the issue's lab list in one L1 command, with 2 VFs: the fallbacks (--migratable, the probe override
     * saying no IOMMU, no free VF while two other VMs hold both) each lead to virtio-net on a macvtap with the reason
     * named; two VMs at once take different VFs; SIGTERM ends a VM (a VF, a macvtap and a TAP jvmm made) and gives
     * its VF back reset, its macvtap and TAP deleted; SIGKILL leaves a stale
     * lease and a macvtap, which the next launch on that PF reports and removes; bad --nic input is refused naming
     * the NIC and the key, with nothing left.
     */
    @Test
    void fallbacksTwoVmsSignalsAndBadInput(LabSession lab) {
        String k = lab.kit().kernel().toString();
        String initrd = lab.kit().initrdGuest().toString();
        String dry = jvmm("launch", "--kernel", k, "--dry-run");
        java.util.function.BiFunction<String, String, String> vm = (nics, script) -> jvmm("launch", "--kernel", k,
                "--initrd", initrd, "--memory", "256M", "--cmdline", "console=ttyS0 quiet panic=-1 "
                        + GuestCommandLine.scriptWord(script)) + " " + nics;
        String leases = "/run/jvmm/leases/" + PF;
        try {
            CommandResult r = lab.run(String.join("\n",
                    "set -u; cd $JVMM_LAB_SCRATCH", setUp(2),
                    "vf() { ip link show dev $P | grep \"vf $1 \" | grep -o 'link/ether [0-9a-f:]*'; }",
                    "echo DRY-MIGRATABLE $(" + dry + " --migratable --nic \"pf=$P\" 2>&1)",
                    "echo DRY-NOIOMMU $(JVMM_PROBE_OVERRIDE='passthrough=not-ready:no IOMMU (simulated)' " + dry
                            + " --nic \"pf=$P\" 2>&1 | grep -v WARN)",
                    // two VMs at once, each with a VF (auto); B also has a macvtap over the PF
                    vm.apply("--nic \"id=eth0,pf=$P\" --nic \"id=eth1,mode=virtio,pf=$P,mac=52:54:00:00:a0:01\" --nic id=eth2,mode=virtio",
                            "sleep 600") + " > a.log 2>&1 & A=$!; echo $A > vm.pids",
                    "for i in $(seq 600); do grep -q 'took VF' a.log && break; sleep 0.2; done",
                    vm.apply("--nic \"id=eth0,pf=$P\" --nic \"id=eth1,mode=virtio,pf=$P,mac=52:54:00:00:b0:01\"", "sleep 600") + " > b.log 2>&1 & B=$!; echo $B >> vm.pids",
                    "for i in $(seq 600); do grep -q 'Linux version\\|took VF.*' b.log && grep -q 'took VF' b.log && break; sleep 0.2; done",
                    "sleep 2; echo A-VF $(grep -o 'took VF [0-9a-f:.]*' a.log); echo B-VF $(grep -o 'took VF [0-9a-f:.]*' b.log)",
                    "echo LEASES-RUNNING $(ls " + leases + " | grep -c json)",
                    "kill -0 $A 2>/dev/null || tail -5 a.log | sed 's/^/A-LOG /'; kill -0 $B 2>/dev/null || tail -5 b.log | sed 's/^/B-LOG /'",
                    "echo DRY-NOFREE $(" + dry + " --nic \"pf=$P\" 2>&1)",
                    // bad input
                    "echo BAD-VLAN $(" + dry + " --nic \"id=eth1,pf=$P,vlan=5000\" 2>&1; echo rc=$?)",
                    "echo BAD-MAC $(" + dry + " --nic \"id=eth1,pf=$P,mac=01:00:5e:00:00:01\" 2>&1; echo rc=$?)",
                    "echo BAD-MIGRATABLE $(" + dry + " --migratable --nic \"id=eth1,mode=passthrough,pf=$P\" 2>&1; echo rc=$?)",
                    "echo BAD-NOSRIOV $(" + dry + " --nic \"id=eth1,mode=passthrough,pf=$EN\" 2>&1; echo rc=$?)",
                    "echo BAD-NOTVF $(" + dry + " --nic \"id=eth1,vf=" + dev.jvmm.lab.L1CommandLine.E1000E_BDF + "\" 2>&1; echo rc=$?)",
                    // SIGTERM A: its VF comes back reset
                    "AVF=$(grep -o 'took VF [0-9a-f:.]*' a.log | cut -d' ' -f3); AIDX=$(grep -o 'VF [0-9] of' a.log | cut -d' ' -f2)",
                    "kill -TERM $A; wait $A; echo A-RC $?",
                    "echo A-AFTER $(vf $AIDX) $(ls " + leases + "/$AVF.json 2>/dev/null | wc -l) $(basename $(readlink /sys/bus/pci/devices/$AVF/driver) 2>/dev/null || echo no-driver)",
                    "echo A-LINKS-LEFT $(ip -o link | grep -c -E \"mvt${A}n|jvmmtap\")",
                    // SIGKILL B: a stale lease and its macvtap stay behind until the next launch
                    "kill -KILL $B; wait $B 2>/dev/null; sleep 1",
                    "echo B-LEFT $(ls " + leases + " | grep -c json) $(ip -o link | grep -c \"mvt${B}n\")",
                    vm.apply("--nic \"id=eth0,pf=$P\"", "true") + " > c.log 2>&1; echo C-RC $?",
                    "grep -E 'released the stale lease|deleted macvtap' c.log | sed 's/^/C-SAYS /'",
                    "echo END-LEASES $(ls " + leases + " 2>/dev/null | grep -c json) END-LINKS $(ip -o link | grep -c -E 'mvt[0-9]+n')",
                    "echo END-VFS $(vf 0) $(vf 1)",
                    "rm -f a.log b.log c.log vm.pids"), Duration.ofMinutes(10));
            String out = r.output();
            System.out.println("[nic-e2e] fallbacks, two VMs, signals:\n" + out);
            assertTrue(line(out, "DRY-MIGRATABLE").matches("eth0: virtio-net on macvtap over \\S+ \\(fallback: the VM is migratable\\)"), out);
            assertTrue(line(out, "DRY-NOIOMMU").matches("eth0: virtio-net on macvtap over \\S+ \\(fallback: passthrough not ready: "
                    + "no IOMMU \\(simulated\\)\\)"), out);
            String a = line(out, "A-VF");
            String b = line(out, "B-VF");
            assertTrue(a.startsWith("took VF 0000:01:10.") && b.startsWith("took VF 0000:01:10.") && !a.equals(b),
                    "two VMs, two VFs: " + a + " / " + b);
            assertEquals("2", line(out, "LEASES-RUNNING"), out);
            assertTrue(line(out, "DRY-NOFREE").matches("eth0: virtio-net on macvtap over \\S+ \\(fallback: no free VF on .*\\)"), out);
            assertTrue(line(out, "BAD-VLAN").startsWith("Error: --nic eth1: vlan: must be between 0 and 4095, got 5000"), out);
            assertTrue(line(out, "BAD-MAC").startsWith("Error: --nic eth1: mac: 01:00:5e:00:00:01 is a multicast address"), out);
            assertTrue(line(out, "BAD-MIGRATABLE").startsWith("Error: --nic eth1: mode=passthrough on a --migratable VM"), out);
            assertTrue(line(out, "BAD-NOSRIOV").contains("eth1") && line(out, "BAD-NOSRIOV").contains("SR-IOV")
                    && !line(out, "BAD-NOSRIOV").endsWith("rc=0"), out);
            assertTrue(line(out, "BAD-NOTVF").contains("no SR-IOV VF at " + dev.jvmm.lab.L1CommandLine.E1000E_BDF)
                    && !line(out, "BAD-NOTVF").endsWith("rc=0"), out);
            assertEquals("link/ether 00:00:00:00:00:00 0 no-driver", line(out, "A-AFTER"), "SIGTERM gave A's VF back:\n" + out);
            assertEquals("0", line(out, "A-LINKS-LEFT"), "SIGTERM left no macvtap or TAP of A:\n" + out);
            assertEquals("1 1", line(out, "B-LEFT"), "SIGKILL left B's lease and macvtap:\n" + out);
            assertEquals("0", line(out, "C-RC"), out);
            assertTrue(Pattern.compile("C-SAYS jvmm: eth0: released the stale lease of VF 0000:01:10\\.\\d \\(.*\\)").matcher(out).find(),
                    "the next launch reported the stale lease:\n" + out);
            assertTrue(out.contains("C-SAYS jvmm: deleted macvtap mvt"), "and removed B's macvtap:\n" + out);
            assertEquals("0 END-LINKS 0", line(out, "END-LEASES"), out);
            assertEquals("link/ether 00:00:00:00:00:00 link/ether 00:00:00:00:00:00", line(out, "END-VFS"), out);
        } finally {
            // only the VMs this test started, by their pids
            lab.run("cd $JVMM_LAB_SCRATCH; kill $(cat vm.pids 2>/dev/null) 2>/dev/null; sleep 2; rm -f vm.pids; " + TEAR_DOWN, T);
        }
    }
}

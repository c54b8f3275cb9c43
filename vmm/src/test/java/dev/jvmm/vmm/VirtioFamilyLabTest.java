package dev.jvmm.vmm;

import static dev.jvmm.vmm.LabCli.line;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.Classpath;
import dev.jvmm.lab.CommandResult;
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
 * <li>vsock ({@code --vsock cid=7}, vhost-vsock in L1): the guest's {@code vsockecho} (a test resource, built static)
 * connects to the host (CID 2) and a Java peer in L1 ({@code VsockPeer}, through jvmm's own AF_VSOCK binding)
 * answers; then the guest listens and the peer connects to CID 7. Bytes arrive both ways, each way.</li>
 * </ul>
 */
@LabTest
class VirtioFamilyLabTest {
    private static final Duration TIMEOUT = Duration.ofMinutes(10);
    private static String output;

    static final String GUEST = """
            mount -t ext4 /dev/vda /mnt || echo G-MOUNT-FAILED
            /mnt/vsockecho connect 2 5000 ping-from-guest; echo G-VSOCK-CONNECT-RC $?
            /mnt/vsockecho listen 5001 pong-from-guest; echo G-VSOCK-LISTEN-RC $?
            umount /mnt
            """;

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
        List<String> launch = new ArrayList<>(List.of("launch"));
        launch.addAll(LaunchLabTest.kitArgs(lab, 1, GUEST));
        launch.addAll(List.of("--disk", "path=disk.img", "--vsock", "cid=7"));
        String peer = "dev.jvmm.sys.vsock.VsockPeer";
        String script = String.join("\n",
                "set -u; W=$JVMM_LAB_SCRATCH/family; rm -rf $W; mkdir -p $W/fs && cd $W",
                "cp " + vsockecho + " fs/vsockecho",
                "truncate -s 64M disk.img && mkfs.ext4 -q -F -d fs disk.img",
                java(peer, "listen", "5000", "pong-from-host") + " > peer1.log 2>&1 & P1=$!",
                LabCli.jvmm(launch.toArray(String[]::new)) + " > vm.log 2>&1 & VM=$!",
                "for i in $(seq 1200); do grep -q 'vsockecho listening 5001' vm.log && break; kill -0 $VM 2>/dev/null || break; sleep 0.2; done",
                java(peer, "connect", "7", "5001", "ping-from-host") + " > peer2.log 2>&1; echo L1-PEER2-RC $?",
                "wait $VM; echo L1-VM-RC $?",
                "kill $P1 2>/dev/null; wait $P1 2>/dev/null",
                "cat vm.log; sed 's/^/L1-PEER1 /' peer1.log; sed 's/^/L1-CONNECTED /' peer2.log",
                "cd /; rm -rf $W");
        CommandResult r = lab.run(script, TIMEOUT);
        output = r.output();
        System.out.println("[family] one L2 boot:\n" + output);
        return output;
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

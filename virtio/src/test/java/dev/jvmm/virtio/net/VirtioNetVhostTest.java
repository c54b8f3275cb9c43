package dev.jvmm.virtio.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.core.DirtyBitmap;
import dev.jvmm.core.MemorySlotSink;
import dev.jvmm.sys.testing.L1Test;
import dev.jvmm.sys.testing.L1TierFilter;
import dev.jvmm.sys.testing.OpenFds;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The tests of {@link VirtioNetTapTest} with the kernel's vhost-net serving the rings (ping through a real TAP in a
 * namespace, multiqueue with the control queue, a bad tx chain reported on vhost's error eventfd setting NEEDS_RESET),
 * plus what only vhost has: its used-ring and buffer writes reach the migration's dirty log through the kernel log,
 * and a quiesce hands the rings back at the place vhost stopped. L1 tier: it runs inside the lab's L1, which loads
 * vhost_net (the build hosts have no /dev/vhost-net), with no guest.
 */
@L1Test
class VirtioNetVhostTest extends VirtioNetTapTest {
    private static final MemorySlotSink NO_SLOTS = (slot, flags, gpa, size, hva) -> {
        throw new AssertionError("this memory has no slots");
    };

    @Override
    boolean vhost() {
        return true;
    }

    @BeforeEach
    void needVhost() {
        boolean present = Files.exists(Path.of("/dev/vhost-net"));
        if (!present && L1TierFilter.inL1()) {
            throw new IllegalStateException("/dev/vhost-net is missing in the lab's L1 (its init loads vhost_net)");
        }
        Assumptions.assumeTrue(present, "needs /dev/vhost-net (modprobe vhost_net)");
    }

    /**
     * Pings {@code ip} from the namespace, so that its ARP request reaches the guest, and returns the first ARP frame
     * received (or the 21st frame, when none was), skipping others (IPv6 neighbour discovery).
     */
    private long[] arpRequest(String ip) throws Exception {
        ns.start("busybox", "ping", "-c", "1", "-W", "1", ip);
        long[] f = nextFrame();
        for (int i = 0; i < 20 && u16(f[0] + 12) != 0x0806; i++) {
            f = nextFrame();
        }
        return f;
    }

    /** Not a test here (no {@code @Test}): the fallback from a vhost that cannot start runs once, in the unit tier. */
    @Override
    void aVhostThatCannotStartFallsBackToTheVmmDataPlaneAndLeaksNothing() {
    }

    /** Not a test here (no {@code @Test}): the receive filter is the VMM data plane's; vhost-net applies none. */
    @Override
    void theReceiveFilterFindsTheMacAfterAHeaderOnlyDescriptor() {
    }

    @Test
    void receivedFramesAreInTheDirtyLogAndAQuiesceHandsTheRingsBack() throws Exception {
        java.util.Map<Integer, String> before = OpenFds.now();
        start(1);
        assertTrue(net.vhostServing(), "vhost serves: " + net.vhostFallback());
        mem.startDirtyLog(NO_SLOTS);
        try {
            long[] f = arpRequest("10.99.0.2"); // frames from before logging started do not count
            assertEquals(0x0806, u16(f[0] + 12), "the ARP request arrived");
            List<DirtyBitmap> dirty = mem.harvestDirty(null);
            long bufPage = (f[0] - 12) / 4096;
            long usedPage = drv.rings.get(0).used / 4096;
            assertTrue(dirty.get(0).isDirty(bufPage), "the rx buffer vhost wrote is dirty (page " + bufPage + ")");
            assertTrue(dirty.get(0).isDirty(usedPage), "the used ring vhost wrote is dirty (page " + usedPage + ")");
        } finally {
            mem.stopDirtyLog(NO_SLOTS);
        }
        // quiesce: vhost stops, its place goes back into the queues; the rings are served again after
        int rxUsed = drv.rings.get(0).usedIdx();
        dev.quiesce();
        assertFalse(net.vhostServing());
        assertEquals(rxUsed, dev.queues().get(0).usedIdx(), "the queue resumes at vhost's used index");
        dev.unquiesce();
        assertTrue(net.vhostServing());
        send(new byte[60]); // tx is served after the restart
        assertEquals(0x0806, u16(arpRequest("10.99.0.3")[0] + 12), "rx is served after the restart");
        dev.close();
        dev = null;
        assertEquals(List.of(), OpenFds.leaked(before).stream().filter(s -> s.contains("vhost")).toList(),
                "the vhost fds are closed");
    }
}

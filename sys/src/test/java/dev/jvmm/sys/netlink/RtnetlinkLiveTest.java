package dev.jvmm.sys.netlink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.netlink.uapi.IfLinkConstants;
import dev.jvmm.sys.netlink.uapi.NetlinkConstants;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The real rtnetlink of the running kernel: loopback in the host namespace (read only) and a veth pair in a
 * network namespace this test creates and deletes. iproute2 and sysfs are the independent readers.
 */
class RtnetlinkLiveTest {
    private static final String NS = "jvmm-nltest-" + ProcessHandle.current().pid();
    private static boolean nsCreated;

    private static String sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
        }
        return out;
    }

    @BeforeAll
    static void netns() throws Exception {
        boolean root = "0".equals(sh("id", "-u").trim());
        Assumptions.assumeTrue(root, "needs root to create a network namespace (skipped: not root)");
        sh("ip", "netns", "add", NS);
        nsCreated = true;
        sh("ip", "-n", NS, "link", "add", "v0", "address", "02:00:00:00:aa:01", "mtu", "1400", "type", "veth",
                "peer", "name", "v1", "address", "02:00:00:00:aa:02");
    }

    @AfterAll
    static void cleanup() throws Exception {
        if (nsCreated) {
            sh("ip", "netns", "del", NS);
        }
    }

    @Test
    void loopbackMatchesSysfs() throws Exception {
        try (Rtnetlink rt = Rtnetlink.open()) {
            assertTrue(rt.socket().extAck(), "kernel accepts NETLINK_EXT_ACK");
            Link lo = rt.link("lo");
            assertEquals(Integer.parseInt(Files.readString(Path.of("/sys/class/net/lo/ifindex")).trim()), lo.index());
            assertEquals(Integer.parseInt(Files.readString(Path.of("/sys/class/net/lo/mtu")).trim()), lo.mtu());
            assertEquals(lo, rt.link(lo.index()));
        }
    }

    @Test
    void vethInOwnNamespaceReadsLikeIproute2AndRejectsVfSettingsNamingTheAttribute() throws Exception {
        try (Rtnetlink rt = new Rtnetlink(NetlinkSocket.openInNetns("/run/netns/" + NS, NetlinkConstants.NETLINK_ROUTE))) {
            Link v0 = rt.link("v0");
            String ip = sh("ip", "-n", NS, "-o", "link", "show", "v0");
            assertTrue(ip.startsWith(v0.index() + ": v0@v1:"), ip);
            assertTrue(ip.contains("mtu " + v0.mtu() + " "), ip);
            assertEquals("02:00:00:00:aa:01", v0.address());
            assertEquals(1400, v0.mtu());
            List<String> names = rt.links().stream().map(Link::name).toList();
            assertEquals(List.of("lo", "v0", "v1"), names.stream().sorted().toList());

            var e = assertThrows(NetlinkErrorException.class,
                    () -> rt.setVf(v0.index(), "v0", new VfAttribute.Vlan(0, 5, 1, IfLinkConstants.ETH_P_8021AD)));
            assertEquals("RTM_SETLINK", e.op());
            assertEquals(dev.jvmm.sys.Errno.EOPNOTSUPP, e.errno());
            assertTrue(e.getMessage().contains("dev v0 vf 0 IFLA_VF_VLAN_LIST (vlan=5 qos=1 proto=802.1ad)"), e.getMessage());

            var nodev = assertThrows(NetlinkErrorException.class, () -> rt.link("nosuch0"));
            assertEquals("ENODEV", nodev.errnoName());
            // the socket stays usable after errors (sequence numbers keep replies apart)
            assertEquals(v0, rt.link(v0.index()));
        }
    }

    /**
     * A macvtap made over rtnetlink on v0 (bridge mode), its /dev/tapN opened like a TAP with a virtio-net header:
     * a frame written there leaves through v0 and arrives on v1 (counted in v1's statistics); v1 enslaved to a
     * bridge and freed again; the macvtap deleted, and its device node gone with it.
     */
    @Test
    void macvtapCarriesAFrameAndLinksJoinAndLeaveABridge() throws Exception {
        sh("ip", "-n", NS, "link", "add", "jbr0", "type", "bridge");
        try (Rtnetlink rt = new Rtnetlink(NetlinkSocket.openInNetns("/run/netns/" + NS, NetlinkConstants.NETLINK_ROUTE))) {
            Link v0 = rt.link("v0");
            Link v1 = rt.link("v1");
            Link mvt = rt.newMacvtap("jmvt0", v0.index(), new byte[] {0x02, 0, 0, 0, (byte) 0xbb, 1});
            assertEquals("02:00:00:00:bb:01", mvt.address());
            String d = sh("ip", "-n", NS, "-d", "-o", "link", "show", "jmvt0");
            assertTrue(d.contains("jmvt0@v0") && d.contains("macvtap mode bridge"), d);
            var e = assertThrows(NetlinkErrorException.class, () -> rt.newMacvtap("jmvt0", v0.index(), null));
            assertEquals("EEXIST", e.errnoName());
            for (Link l : List.of(v0, v1, mvt)) {
                rt.setLink(l.index(), l.name(), -1, true);
            }
            Path node = Path.of("/dev/tap" + mvt.index());
            for (int i = 0; i < 50 && !Files.exists(node); i++) {
                Thread.sleep(20); // devtmpfs makes the node asynchronously
            }
            long before = Long.parseLong(sh("ip", "netns", "exec", NS, "cat", "/sys/class/net/v1/statistics/rx_packets").trim());
            try (dev.jvmm.sys.tun.TapDevice tap = dev.jvmm.sys.tun.TapDevice.openMacvtap(node, "jmvt0", 1, true);
                 dev.jvmm.sys.NativeBuffer frame = new dev.jvmm.sys.NativeBuffer(10 + 60)) {
                assertTrue(tap.vnetHdr());
                frame.put(0, new byte[70], 0, 70); // a zero virtio-net header: no offload
                byte[] eth = {-1, -1, -1, -1, -1, -1, 0x02, 0, 0, 0, (byte) 0xbb, 1, (byte) 0x88, (byte) 0xb5};
                frame.put(10, eth, 0, eth.length);
                for (int i = 0; i < 3; i++) {
                    assertEquals(70, tap.queue(0).write(frame.address(), 70));
                }
            }
            long after = Long.parseLong(sh("ip", "netns", "exec", NS, "cat", "/sys/class/net/v1/statistics/rx_packets").trim());
            assertTrue(after - before >= 3, "frames through the macvtap reached v1: rx_packets " + before + " -> " + after);

            Link br = rt.link("jbr0");
            rt.setLink(v1.index(), "v1", br.index(), null);
            assertTrue(sh("ip", "-n", NS, "-o", "link", "show", "v1").contains(" master jbr0 "));
            rt.setLink(v1.index(), "v1", 0, null);
            assertTrue(!sh("ip", "-n", NS, "-o", "link", "show", "v1").contains(" master "));

            rt.deleteLink(mvt.index(), "jmvt0");
            var gone = assertThrows(NetlinkErrorException.class, () -> rt.link("jmvt0"));
            assertEquals("ENODEV", gone.errnoName());
            for (int i = 0; i < 50 && Files.exists(node); i++) {
                Thread.sleep(20);
            }
            assertTrue(!Files.exists(node), node + " left behind");
        }
    }
}

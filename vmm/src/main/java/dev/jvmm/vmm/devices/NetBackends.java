package dev.jvmm.vmm.devices;

import dev.jvmm.sys.netlink.Link;
import dev.jvmm.sys.netlink.NetlinkErrorException;
import dev.jvmm.sys.netlink.Rtnetlink;
import dev.jvmm.sys.tun.TapDevice;
import dev.jvmm.vmm.ResourceStack;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.NetConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host side of a virtio-net device: a TAP (made or attached), a TAP put into a bridge, or a macvtap made on
 * a link (bridge mode, with the guest's MAC, so the guest is a station of that link's network, as a VF of the same
 * PF would be). Everything made here is owned by {@code res}: the TAP or macvtap fds close, a made macvtap is
 * deleted, a TAP put into a bridge leaves it.
 */
public final class NetBackends {
    private static final Logger log = LoggerFactory.getLogger(NetBackends.class);

    private NetBackends() {
    }

    /**
     * The backend of NIC {@code index}, its frames with a virtio-net header; {@code what} names it in errors. With
     * {@code restoring}, a macvtap whose MAC is still up elsewhere on its link (the macvtap of a migration's source,
     * on this host) is left down: {@link DeviceManager#setMacvtapsUp} brings it up once the source has let go.
     */
    static TapDevice open(NetConfig n, int index, byte[] mac, ResourceStack res, String what, boolean restoring) {
        if (n.macvtapOver() != null) {
            return macvtap(n, index, mac, res, what, restoring);
        }
        TapDevice tap;
        try {
            tap = res.push(TapDevice.open(n.tap(), n.queues(), true));
        } catch (RuntimeException e) {
            throw new VmmException(VmmException.Reason.HOST, what + ": cannot open the TAP (needs CAP_NET_ADMIN and "
                    + "/dev/net/tun; an existing TAP must have been created with the same multi_queue setting and "
                    + "vnet_hdr): " + e.getMessage(), e);
        }
        if (n.bridge() != null) {
            try (Rtnetlink rt = Rtnetlink.open()) {
                Link br = rt.link(n.bridge());
                Link t = rt.link(tap.name());
                rt.setLink(t.index(), t.name(), br.index(), true);
                if (!tap.created()) {
                    res.push(() -> leaveBridge(t, n.bridge()));
                }
                log.info("{}: tap {} in bridge {}", what, tap.name(), n.bridge());
            } catch (NetlinkErrorException e) {
                throw new VmmException(VmmException.Reason.HOST, what + ": cannot put tap " + tap.name() + " into bridge "
                        + n.bridge() + ": " + e.getMessage() + ("ENODEV".equals(e.errnoName())
                        ? " (is there a bridge of that name? ip link add " + n.bridge() + " type bridge)" : ""), e);
            }
        } else if (tap.created()) {
            try {
                tap.setUp(true);
            } catch (RuntimeException e) {
                log.warn("{}: could not set it up: {}", tap.name(), e.getMessage());
            }
        }
        return tap;
    }

    private static void leaveBridge(Link tap, String bridge) {
        try (Rtnetlink rt = Rtnetlink.open()) {
            rt.setLink(tap.index(), tap.name(), 0, null);
        } catch (RuntimeException e) {
            log.warn("tap {}: could not take it out of bridge {}: {}", tap.name(), bridge, e.getMessage());
        }
    }

    /** The name of NIC {@code index}'s macvtap: it carries jvmm's pid, so a later jvmm can tell whose it was. */
    static String macvtapName(long pid, int index) {
        return "mvt" + pid + "n" + index;
    }

    private static final java.util.regex.Pattern MACVTAP_NAME = java.util.regex.Pattern.compile("mvt(\\d+)n\\d+");

    /**
     * Deletes the macvtaps a jvmm that is gone left behind (killed with SIGKILL, it could not delete its own); a
     * jvmm that runs keeps its. Returns what was deleted.
     */
    public static java.util.List<String> sweepStaleMacvtaps() {
        java.util.List<String> gone = new java.util.ArrayList<>();
        try (Rtnetlink rt = Rtnetlink.open()) {
            for (Link l : rt.links()) {
                java.util.regex.Matcher m = l.name() == null ? null : MACVTAP_NAME.matcher(l.name());
                if (m == null || !m.matches() || ProcessHandle.of(Long.parseLong(m.group(1))).map(ProcessHandle::isAlive)
                        .orElse(false)) {
                    continue;
                }
                try {
                    rt.deleteLink(l.index(), l.name());
                    gone.add(l.name());
                } catch (RuntimeException e) {
                    log.warn("macvtap {} of a jvmm that is gone: could not delete it: {}", l.name(), e.getMessage());
                }
            }
        }
        return gone;
    }

    private static TapDevice macvtap(NetConfig n, int index, byte[] mac, ResourceStack res, String what,
            boolean restoring) {
        String name = macvtapName(ProcessHandle.current().pid(), index);
        Link made;
        try (Rtnetlink rt = Rtnetlink.open()) {
            Link parent;
            try {
                parent = rt.link(n.macvtapOver());
            } catch (NetlinkErrorException e) {
                throw new VmmException(VmmException.Reason.HOST, what + ": no link " + n.macvtapOver()
                        + " to make a macvtap on: " + e.getMessage(), e);
            }
            try {
                made = rt.newMacvtap(name, parent.index(), mac);
            } catch (NetlinkErrorException e) {
                throw new VmmException(VmmException.Reason.HOST, what + ": cannot make macvtap " + name + " on "
                        + parent.name() + ": " + e.getMessage() + (e.errno() == dev.jvmm.sys.Errno.EOPNOTSUPP
                        ? " (is the macvtap module loaded? modprobe macvtap)" : ""), e);
            }
            Link m = made;
            res.push(() -> delete(m));
            try {
                rt.setLink(m.index(), m.name(), -1, true);
            } catch (NetlinkErrorException e) {
                if (restoring && e.errno() == dev.jvmm.sys.Errno.EADDRINUSE) {
                    log.info("{}: macvtap {}: MAC {} is still up on {} (a migration's source on this host): it comes up "
                            + "at the switch-over", what, m.name(), NetConfig.format(mac), n.macvtapOver());
                } else {
                    throw new VmmException(VmmException.Reason.HOST, what + ": cannot set macvtap " + m.name() + " up: "
                            + e.getMessage() + (e.errno() == dev.jvmm.sys.Errno.EADDRINUSE ? " (another macvtap or "
                            + "macvlan on " + n.macvtapOver() + " has MAC " + NetConfig.format(mac) + ": two VMs with the "
                            + "same generated MAC? give each NIC its own mac=)" : ""), e);
                }
            }
        }
        Path node = Path.of("/dev/tap" + made.index());
        for (int i = 0; i < 100 && !Files.exists(node); i++) {
            try {
                Thread.sleep(10); // devtmpfs makes the node asynchronously
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        TapDevice tap;
        try {
            tap = res.push(TapDevice.openMacvtap(node, made.name(), n.queues(), true));
        } catch (RuntimeException e) {
            throw new VmmException(VmmException.Reason.HOST, what + ": cannot open " + node + " of macvtap "
                    + made.name() + ": " + e.getMessage(), e);
        }
        log.info("{}: macvtap {} on {} ({} {})", what, made.name(), n.macvtapOver(), node, NetConfig.format(mac));
        return tap;
    }

    private static void delete(Link l) {
        try (Rtnetlink rt = Rtnetlink.open()) {
            rt.deleteLink(l.index(), l.name());
        } catch (RuntimeException e) {
            log.warn("macvtap {}: could not delete it: {}", l.name(), e.getMessage());
        }
    }
}

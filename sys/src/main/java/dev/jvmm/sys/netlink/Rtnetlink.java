package dev.jvmm.sys.netlink;

import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NETLINK_ROUTE;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.RTM_NEWLINK;

import java.util.ArrayList;
import java.util.List;

/**
 * rtnetlink link operations jvmm needs: read a link with its VF table ({@code RTM_GETLINK} with
 * {@code IFLA_EXT_MASK = RTEXT_FILTER_VF|RTEXT_FILTER_SKIP_STATS}) and set one VF attribute
 * ({@code RTM_SETLINK} with {@code IFLA_VFINFO_LIST}).
 */
public final class Rtnetlink implements AutoCloseable {
    private final NetlinkSocket sock;

    public Rtnetlink(NetlinkSocket sock) {
        this.sock = sock;
    }

    /** Opens an {@code NETLINK_ROUTE} socket in the caller's network namespace. */
    public static Rtnetlink open() {
        return new Rtnetlink(NetlinkSocket.open(NETLINK_ROUTE));
    }

    public NetlinkSocket socket() {
        return sock;
    }

    /** The link named {@code ifname} with its VFs; {@code ENODEV} (as {@link NetlinkErrorException}) if none. */
    public Link link(String ifname) {
        return one(sock.request(RtLinkCodec.getLink(0, ifname, RtLinkCodec.VF_NO_STATS), "RTM_GETLINK", "dev " + ifname));
    }

    public Link link(int ifindex) {
        return one(sock.request(RtLinkCodec.getLink(ifindex, null, RtLinkCodec.VF_NO_STATS), "RTM_GETLINK", "ifindex " + ifindex));
    }

    /** All links of this namespace (dump), without VF info. */
    public List<Link> links() {
        List<Link> out = new ArrayList<>();
        for (NlMessage m : sock.request(RtLinkCodec.dumpLinks(0), "RTM_GETLINK", "dump")) {
            if (m.type() == RTM_NEWLINK) {
                out.add(RtLinkCodec.decodeLink(m));
            }
        }
        return out;
    }

    private static Link one(List<NlMessage> replies) {
        for (NlMessage m : replies) {
            if (m.type() == RTM_NEWLINK) {
                return RtLinkCodec.decodeLink(m);
            }
        }
        throw new NetlinkProtocolException("RTM_GETLINK was acknowledged without an RTM_NEWLINK reply");
    }

    /**
     * Sets one VF attribute on PF {@code ifindex}. One attribute per request, so a failure names exactly the
     * attribute the kernel rejected: the exception's op is {@code RTM_SETLINK}, its context reads
     * {@code dev <pf> vf <n> IFLA_VF_VLAN_LIST (vlan=4095 qos=0 proto=802.1ad)} plus the kernel's ext-ack text.
     */
    public void setVf(int ifindex, String pfName, VfAttribute attr) {
        sock.request(RtLinkCodec.setVf(ifindex, attr), "RTM_SETLINK",
                "dev " + (pfName == null ? "ifindex " + ifindex : pfName) + " vf " + attr.vf() + " "
                        + attr.kernelName() + " (" + attr.describe() + ")");
    }

    /**
     * Creates macvtap {@code name} (bridge mode) on link {@code parent} with MAC {@code mac} (null: a random one)
     * and returns it; {@code EEXIST} when the name is taken.
     */
    public Link newMacvtap(String name, int parent, byte[] mac) {
        sock.request(RtLinkCodec.newMacvtap(name, parent, mac), "RTM_NEWLINK", "macvtap " + name + " link ifindex " + parent);
        return link(name);
    }

    /** Deletes link {@code ifindex} ({@code RTM_DELLINK}). */
    public void deleteLink(int ifindex, String name) {
        sock.request(RtLinkCodec.delLink(ifindex), "RTM_DELLINK", "dev " + name);
    }

    /** Enslaves link {@code ifindex} to bridge {@code master} (0: frees it) and/or sets it up or down. */
    public void setLink(int ifindex, String name, int master, Boolean up) {
        sock.request(RtLinkCodec.setLink(ifindex, master, up), "RTM_SETLINK",
                "dev " + name + (master >= 0 ? " master ifindex " + master : "") + (up == null ? "" : up ? " up" : " down"));
    }

    @Override
    public void close() {
        sock.close();
    }
}

package dev.jvmm.sys.netlink;

import static dev.jvmm.sys.netlink.uapi.IfLinkConstants.*;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.AF_UNSPEC;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NLM_F_ACK;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NLM_F_CREATE;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NLM_F_EXCL;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.RTM_DELLINK;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NLM_F_DUMP;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NLM_F_REQUEST;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.RTM_GETLINK;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.RTM_NEWLINK;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.RTM_SETLINK;

import dev.jvmm.sys.netlink.uapi.IfInfoMsg;
import dev.jvmm.sys.netlink.uapi.IflaVfLinkState;
import dev.jvmm.sys.netlink.uapi.IflaVfMac;
import dev.jvmm.sys.netlink.uapi.IflaVfRate;
import dev.jvmm.sys.netlink.uapi.IflaVfSpoofchk;
import dev.jvmm.sys.netlink.uapi.IflaVfTrust;
import dev.jvmm.sys.netlink.uapi.IflaVfTxRate;
import dev.jvmm.sys.netlink.uapi.IflaVfVlan;
import dev.jvmm.sys.netlink.uapi.IflaVfVlanInfo;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes the rtnetlink link requests jvmm sends and decodes {@code RTM_NEWLINK} replies (layouts in
 * {@code <linux/rtnetlink.h>} and {@code <linux/if_link.h>}; kernel side in {@code net/core/rtnetlink.c}).
 */
public final class RtLinkCodec {
    /** {@code RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS}: VF info without the 100-byte per-VF stats. */
    public static final int VF_NO_STATS = 1 | 8;

    private RtLinkCodec() {
    }

    /**
     * {@code RTM_GETLINK} for one link, by index ({@code ifindex > 0}) or by {@code IFLA_IFNAME}, with
     * {@code IFLA_EXT_MASK} {@code extMask} (0 = attribute left out), and {@code NLM_F_ACK} so that the reply
     * ends with an ACK.
     */
    public static NlMessageBuilder getLink(int ifindex, String ifname, int extMask) {
        NlMessageBuilder b = new NlMessageBuilder(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK)
                .ifinfomsg(AF_UNSPEC, 0, Math.max(ifindex, 0), 0, 0);
        if (extMask != 0) {
            b.attrU32(IFLA_EXT_MASK, extMask); // same order as iproute2, so requests compare byte for byte
        }
        if (ifindex <= 0) {
            b.attrString(IFLA_IFNAME, ifname);
        }
        return b;
    }

    /** {@code RTM_GETLINK} dump of all links. */
    public static NlMessageBuilder dumpLinks(int extMask) {
        NlMessageBuilder b = new NlMessageBuilder(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP)
                .ifinfomsg(AF_UNSPEC, 0, 0, 0, 0);
        if (extMask != 0) {
            b.attrU32(IFLA_EXT_MASK, extMask);
        }
        return b;
    }

    /**
     * {@code RTM_SETLINK} on PF {@code ifindex} carrying {@code IFLA_VFINFO_LIST/IFLA_VF_INFO/attrs}. The kernel
     * applies VF attributes in a fixed order and stops at the first error, so callers that must name the failing
     * attribute send one attribute per request.
     */
    public static NlMessageBuilder setVf(int ifindex, VfAttribute... attrs) {
        NlMessageBuilder b = new NlMessageBuilder(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK)
                .ifinfomsg(AF_UNSPEC, 0, ifindex, 0, 0);
        int list = b.beginNest(IFLA_VFINFO_LIST);
        int info = b.beginNest(IFLA_VF_INFO);
        for (VfAttribute a : attrs) {
            a.encode(b);
        }
        b.endNest(info);
        b.endNest(list);
        return b;
    }

    /**
     * {@code RTM_NEWLINK} with {@code NLM_F_CREATE | NLM_F_EXCL}: a macvtap named {@code name} on {@code parent}
     * in bridge mode ({@code IFLA_LINKINFO { IFLA_INFO_KIND "macvtap", IFLA_INFO_DATA { IFLA_MACVLAN_MODE } }}),
     * with MAC {@code mac} (null: the kernel picks one).
     */
    public static NlMessageBuilder newMacvtap(String name, int parent, byte[] mac) {
        NlMessageBuilder b = new NlMessageBuilder(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
                .ifinfomsg(AF_UNSPEC, 0, 0, 0, 0)
                .attrString(IFLA_IFNAME, name)
                .attrU32(IFLA_LINK, parent);
        if (mac != null) {
            b.attr(IFLA_ADDRESS, mac);
        }
        int info = b.beginNest(IFLA_LINKINFO);
        b.attrString(IFLA_INFO_KIND, "macvtap");
        int data = b.beginNest(IFLA_INFO_DATA);
        b.attrU32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
        b.endNest(data);
        b.endNest(info);
        return b;
    }

    /** {@code RTM_DELLINK} of link {@code ifindex}. */
    public static NlMessageBuilder delLink(int ifindex) {
        return new NlMessageBuilder(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK).ifinfomsg(AF_UNSPEC, 0, ifindex, 0, 0);
    }

    /**
     * {@code RTM_SETLINK} of link {@code ifindex}: {@code IFLA_MASTER} {@code master} (a bridge's index; 0 takes
     * the link out of its bridge) when {@code master >= 0}, and the administrative state {@code IFF_UP} when
     * {@code up} is not null.
     */
    public static NlMessageBuilder setLink(int ifindex, int master, Boolean up) {
        int iffUp = 1;
        NlMessageBuilder b = new NlMessageBuilder(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK)
                .ifinfomsg(AF_UNSPEC, 0, ifindex, up != null && up ? iffUp : 0, up == null ? 0 : iffUp);
        if (master >= 0) {
            b.attrU32(IFLA_MASTER, master);
        }
        return b;
    }

    /** Decodes an {@code RTM_NEWLINK} message. */
    public static Link decodeLink(NlMessage m) {
        if (m.type() != RTM_NEWLINK) {
            throw new NetlinkProtocolException("expected RTM_NEWLINK (16), got message type " + m.type());
        }
        ByteBuffer body = m.body();
        if (body.remaining() < IfInfoMsg.SIZEOF) {
            throw new NetlinkProtocolException("RTM_NEWLINK of " + body.remaining() + " bytes is shorter than struct ifinfomsg");
        }
        int type = Short.toUnsignedInt(body.getShort(IfInfoMsg.IFI_TYPE));
        int index = body.getInt(IfInfoMsg.IFI_INDEX);
        int flags = body.getInt(IfInfoMsg.IFI_FLAGS);
        List<NlAttr> attrs = NlAttr.parse(body.slice(IfInfoMsg.SIZEOF, body.remaining() - IfInfoMsg.SIZEOF));
        NlAttr name = NlAttr.find(attrs, IFLA_IFNAME);
        NlAttr mtu = NlAttr.find(attrs, IFLA_MTU);
        NlAttr addr = NlAttr.find(attrs, IFLA_ADDRESS);
        NlAttr numVf = NlAttr.find(attrs, IFLA_NUM_VF);
        NlAttr list = NlAttr.find(attrs, IFLA_VFINFO_LIST);
        int addrLen = addr == null || addr.length() == 0 || addr.length() > 32 ? 6 : addr.length();
        List<VfInfo> vfs = new ArrayList<>();
        if (list != null) {
            for (NlAttr info : list.nested()) {
                if (info.type() == IFLA_VF_INFO) {
                    vfs.add(decodeVf(info.nested(), addrLen));
                }
            }
        }
        return new Link(index, type, flags, name == null ? null : name.string(), mtu == null ? null : mtu.u32(),
                addr == null ? null : Macs.format(addr.bytes()), numVf == null ? null : numVf.u32(), List.copyOf(vfs));
    }

    private static Boolean flag(NlAttr a, int off) {
        if (a == null) {
            return null;
        }
        int v = a.u32At(off);
        return v == -1 ? null : v != 0; // 0xffffffff: the driver does not report this setting
    }

    static VfInfo decodeVf(List<NlAttr> a, int addrLen) {
        NlAttr mac = NlAttr.find(a, IFLA_VF_MAC);
        if (mac == null) {
            throw new NetlinkProtocolException("IFLA_VF_INFO without IFLA_VF_MAC");
        }
        int vf = mac.u32At(IflaVfMac.VF);
        NlAttr vlan = NlAttr.find(a, IFLA_VF_VLAN);
        NlAttr vlanList = NlAttr.find(a, IFLA_VF_VLAN_LIST);
        NlAttr rate = NlAttr.find(a, IFLA_VF_RATE);
        NlAttr txRate = NlAttr.find(a, IFLA_VF_TX_RATE);
        NlAttr linkState = NlAttr.find(a, IFLA_VF_LINK_STATE);
        int vid = vlan == null ? 0 : vlan.u32At(IflaVfVlan.VLAN);
        int qos = vlan == null ? 0 : vlan.u32At(IflaVfVlan.QOS);
        int proto = ETH_P_8021Q;
        if (vlanList != null) {
            NlAttr vi = NlAttr.find(vlanList.nested(), IFLA_VF_VLAN_INFO);
            if (vi != null) {
                vid = vi.u32At(IflaVfVlanInfo.VLAN);
                qos = vi.u32At(IflaVfVlanInfo.QOS);
                proto = vi.be16At(IflaVfVlanInfo.VLAN_PROTO);
            }
        }
        int min = rate == null ? 0 : rate.u32At(IflaVfRate.MIN_TX_RATE);
        int max = rate != null ? rate.u32At(IflaVfRate.MAX_TX_RATE) : txRate == null ? 0 : txRate.u32At(IflaVfTxRate.RATE);
        return new VfInfo(vf, Macs.format(mac.bytes(IflaVfMac.MAC, addrLen)), vid, qos, proto, min, max,
                flag(NlAttr.find(a, IFLA_VF_SPOOFCHK), IflaVfSpoofchk.SETTING),
                flag(NlAttr.find(a, IFLA_VF_TRUST), IflaVfTrust.SETTING),
                linkState == null ? null : linkState.u32At(IflaVfLinkState.LINK_STATE),
                flag(NlAttr.find(a, IFLA_VF_RSS_QUERY_EN), 4));
    }
}

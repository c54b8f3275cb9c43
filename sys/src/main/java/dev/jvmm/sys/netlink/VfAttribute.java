package dev.jvmm.sys.netlink;

import static dev.jvmm.sys.netlink.uapi.IfLinkConstants.ETH_P_8021AD;
import static dev.jvmm.sys.netlink.uapi.IfLinkConstants.ETH_P_8021Q;

import dev.jvmm.sys.netlink.uapi.IfLinkConstants;
import dev.jvmm.sys.netlink.uapi.IflaVfLinkState;
import dev.jvmm.sys.netlink.uapi.IflaVfMac;
import dev.jvmm.sys.netlink.uapi.IflaVfRate;
import dev.jvmm.sys.netlink.uapi.IflaVfSpoofchk;
import dev.jvmm.sys.netlink.uapi.IflaVfTrust;
import dev.jvmm.sys.netlink.uapi.IflaVfVlan;
import dev.jvmm.sys.netlink.uapi.IflaVfVlanInfo;
import java.nio.ByteBuffer;

/**
 * One VF setting to send inside {@code IFLA_VFINFO_LIST/IFLA_VF_INFO}. {@link #kernelName()} is the attribute's
 * name in {@code <linux/if_link.h>}, used to say which attribute the kernel rejected.
 */
public sealed interface VfAttribute {
    int vf();

    /** For example {@code IFLA_VF_VLAN_LIST}. */
    String kernelName();

    /** Human summary of the value, for example {@code vlan=100 qos=2 proto=802.1ad}. */
    String describe();

    /** Appends the attribute (inside an open {@code IFLA_VF_INFO} nest). */
    void encode(NlMessageBuilder b);

    /** {@code IFLA_VF_MAC} ({@code struct ifla_vf_mac}): the VF's administrative MAC address. */
    record Mac(int vf, byte[] mac) implements VfAttribute {
        public Mac {
            if (mac.length == 0 || mac.length > 32) {
                throw new IllegalArgumentException("MAC of " + mac.length + " bytes (1..32 allowed)");
            }
        }

        public static Mac of(int vf, String mac) {
            return new Mac(vf, Macs.parse(mac));
        }

        @Override
        public String kernelName() {
            return "IFLA_VF_MAC";
        }

        @Override
        public String describe() {
            return "mac=" + Macs.format(mac);
        }

        @Override
        public void encode(NlMessageBuilder b) {
            ByteBuffer s = Structs.alloc(IflaVfMac.SIZEOF);
            s.putInt(IflaVfMac.VF, vf);
            s.put(IflaVfMac.MAC, mac);
            b.attr(IfLinkConstants.IFLA_VF_MAC, s.array());
        }
    }

    /**
     * A VLAN tag with priority and protocol. 802.1Q goes as {@code IFLA_VF_VLAN} (what every driver accepts); 802.1ad
     * as {@code IFLA_VF_VLAN_LIST} with one {@code IFLA_VF_VLAN_INFO} ({@code MAX_VLAN_LIST_LEN} is 1), as iproute2
     * does. {@code vlan} 0 removes the tag.
     */
    record Vlan(int vf, int vlan, int qos, int proto) implements VfAttribute {
        public Vlan {
            if (proto != ETH_P_8021Q && proto != ETH_P_8021AD) {
                throw new IllegalArgumentException("VLAN protocol 0x" + Integer.toHexString(proto)
                        + " (only 802.1Q 0x8100 and 802.1ad 0x88a8)");
            }
        }

        @Override
        public String kernelName() {
            return proto == ETH_P_8021Q ? "IFLA_VF_VLAN" : "IFLA_VF_VLAN_LIST";
        }

        @Override
        public String describe() {
            return "vlan=" + vlan + " qos=" + qos + " proto=" + (proto == ETH_P_8021Q ? "802.1Q" : "802.1ad");
        }

        @Override
        public void encode(NlMessageBuilder b) {
            if (proto == ETH_P_8021Q) {
                ByteBuffer s = Structs.alloc(IflaVfVlan.SIZEOF);
                s.putInt(IflaVfVlan.VF, vf).putInt(IflaVfVlan.VLAN, vlan).putInt(IflaVfVlan.QOS, qos);
                b.attr(IfLinkConstants.IFLA_VF_VLAN, s.array());
                return;
            }
            ByteBuffer s = Structs.alloc(IflaVfVlanInfo.SIZEOF);
            s.putInt(IflaVfVlanInfo.VF, vf).putInt(IflaVfVlanInfo.VLAN, vlan).putInt(IflaVfVlanInfo.QOS, qos);
            s.put(IflaVfVlanInfo.VLAN_PROTO, (byte) (proto >> 8)); // __be16
            s.put(IflaVfVlanInfo.VLAN_PROTO + 1, (byte) proto);
            int list = b.beginNest(IfLinkConstants.IFLA_VF_VLAN_LIST);
            b.attr(IfLinkConstants.IFLA_VF_VLAN_INFO, s.array());
            b.endNest(list);
        }
    }

    /** {@code IFLA_VF_RATE}: min and max TX rate in Mbit/s (0 = no limit); the kernel rejects max below min. */
    record Rate(int vf, int minTxRate, int maxTxRate) implements VfAttribute {
        @Override
        public String kernelName() {
            return "IFLA_VF_RATE";
        }

        @Override
        public String describe() {
            return "min_tx_rate=" + minTxRate + " max_tx_rate=" + maxTxRate;
        }

        @Override
        public void encode(NlMessageBuilder b) {
            ByteBuffer s = Structs.alloc(IflaVfRate.SIZEOF);
            s.putInt(IflaVfRate.VF, vf).putInt(IflaVfRate.MIN_TX_RATE, minTxRate).putInt(IflaVfRate.MAX_TX_RATE, maxTxRate);
            b.attr(IfLinkConstants.IFLA_VF_RATE, s.array());
        }
    }

    /** {@code IFLA_VF_SPOOFCHK}: source MAC/VLAN anti-spoof checking. */
    record Spoofchk(int vf, boolean on) implements VfAttribute {
        @Override
        public String kernelName() {
            return "IFLA_VF_SPOOFCHK";
        }

        @Override
        public String describe() {
            return "spoofchk=" + (on ? "on" : "off");
        }

        @Override
        public void encode(NlMessageBuilder b) {
            ByteBuffer s = Structs.alloc(IflaVfSpoofchk.SIZEOF);
            s.putInt(IflaVfSpoofchk.VF, vf).putInt(IflaVfSpoofchk.SETTING, on ? 1 : 0);
            b.attr(IfLinkConstants.IFLA_VF_SPOOFCHK, s.array());
        }
    }

    /** {@code IFLA_VF_TRUST}: lets the VF change its MAC, enter promiscuous mode and so on. */
    record Trust(int vf, boolean on) implements VfAttribute {
        @Override
        public String kernelName() {
            return "IFLA_VF_TRUST";
        }

        @Override
        public String describe() {
            return "trust=" + (on ? "on" : "off");
        }

        @Override
        public void encode(NlMessageBuilder b) {
            ByteBuffer s = Structs.alloc(IflaVfTrust.SIZEOF);
            s.putInt(IflaVfTrust.VF, vf).putInt(IflaVfTrust.SETTING, on ? 1 : 0);
            b.attr(IfLinkConstants.IFLA_VF_TRUST, s.array());
        }
    }

    /** {@code IFLA_VF_LINK_STATE}: {@code IFLA_VF_LINK_STATE_AUTO} (0), {@code _ENABLE} (1), {@code _DISABLE} (2). */
    record LinkState(int vf, int state) implements VfAttribute {
        public LinkState {
            if (state < 0 || state > 2) {
                throw new IllegalArgumentException("link state " + state + " (0 auto, 1 enable, 2 disable)");
            }
        }

        public static String name(int state) {
            return switch (state) {
                case 0 -> "auto";
                case 1 -> "enable";
                case 2 -> "disable";
                default -> "state " + state;
            };
        }

        @Override
        public String kernelName() {
            return "IFLA_VF_LINK_STATE";
        }

        @Override
        public String describe() {
            return "link_state=" + name(state);
        }

        @Override
        public void encode(NlMessageBuilder b) {
            ByteBuffer s = Structs.alloc(IflaVfLinkState.SIZEOF);
            s.putInt(IflaVfLinkState.VF, vf).putInt(IflaVfLinkState.LINK_STATE, state);
            b.attr(IfLinkConstants.IFLA_VF_LINK_STATE, s.array());
        }
    }
}

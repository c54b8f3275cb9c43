package dev.jvmm.sriov;

import static dev.jvmm.sys.netlink.uapi.IfLinkConstants.ETH_P_8021AD;
import static dev.jvmm.sys.netlink.uapi.IfLinkConstants.ETH_P_8021Q;

import dev.jvmm.sys.netlink.Macs;
import dev.jvmm.sys.netlink.VfAttribute;
import dev.jvmm.sys.netlink.VfInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Wanted network settings of one VF; a null field means "leave as is". VLAN, QoS and protocol travel together
 * (the kernel sets them in one attribute): when {@code vlan} is set, a null qos means 0 and a null proto 802.1Q.
 * Rates likewise: when either rate is set, the other one defaults to 0 (no limit).
 */
public record VfNetConfig(String mac, Integer vlan, Integer qos, String proto, Boolean spoofchk, Boolean trust,
                          String linkState, Integer minTxRate, Integer maxTxRate) {
    public static final VfNetConfig NONE = new VfNetConfig(null, null, null, null, null, null, null, null, null);

    public VfNetConfig {
        if (mac != null) {
            try {
                mac = Macs.normalize(mac);
            } catch (IllegalArgumentException e) {
                throw new SriovException(SriovException.Reason.INVALID_ARGUMENT, e.getMessage());
            }
            if ((Macs.parse(mac)[0] & 1) != 0) {
                throw new SriovException(SriovException.Reason.INVALID_ARGUMENT, "MAC " + mac + " is a multicast address; a VF needs a unicast MAC");
            }
        }
        if (vlan != null && (vlan < 0 || vlan > 4095)) {
            throw bad("VLAN id " + vlan + " is out of range 0..4095 (0 removes the tag)");
        }
        if (qos != null && (qos < 0 || qos > 7)) {
            throw bad("QoS (802.1p priority) " + qos + " is out of range 0..7");
        }
        if ((qos != null || proto != null) && vlan == null) {
            throw bad("qos and proto need a vlan");
        }
        if (proto != null) {
            proto = protoName(protoNumber(proto));
        }
        if (linkState != null && !List.of("auto", "enable", "disable").contains(linkState)) {
            throw bad("link state '" + linkState + "' (expected auto, enable or disable)");
        }
        if (minTxRate != null && minTxRate < 0 || maxTxRate != null && maxTxRate < 0) {
            throw bad("TX rates must be >= 0 Mbit/s");
        }
        int min = minTxRate == null ? 0 : minTxRate;
        int max = maxTxRate == null ? 0 : maxTxRate;
        if (max != 0 && max < min) {
            throw bad("max TX rate " + max + " is below min TX rate " + min + " (0 means unlimited)");
        }
    }

    private static SriovException bad(String m) {
        return new SriovException(SriovException.Reason.INVALID_ARGUMENT, m);
    }

    public static int protoNumber(String proto) {
        return switch (proto.toLowerCase()) {
            case "802.1q" -> ETH_P_8021Q;
            case "802.1ad" -> ETH_P_8021AD;
            default -> throw bad("VLAN protocol '" + proto + "' (expected 802.1Q or 802.1ad)");
        };
    }

    public static String protoName(int proto) {
        return proto == ETH_P_8021AD ? "802.1ad" : proto == ETH_P_8021Q ? "802.1Q" : String.format("0x%04x", proto);
    }

    public static int linkStateNumber(String s) {
        return switch (s) {
            case "auto" -> 0;
            case "enable" -> 1;
            case "disable" -> 2;
            default -> throw bad("link state '" + s + "'");
        };
    }

    public boolean isEmpty() {
        return equals(NONE);
    }

    /** The settings a VF has now, as a config that would restore exactly them (what the driver reports). */
    public static VfNetConfig of(VfInfo v) {
        return new VfNetConfig(v.mac(), v.vlan(), v.qos(), protoName(v.vlanProto()), v.spoofchk(), v.trust(),
                v.linkState() == null ? null : VfAttribute.LinkState.name(v.linkState()), v.minTxRate(), v.maxTxRate());
    }

    /**
     * The settings of a VF that nobody uses, as a VF pool gives it back: MAC 00:00:00:00:00:00 (igb and most drivers
     * then let the VF's own driver pick its MAC again), no VLAN tag, no rate limit, spoof checking on, trust off.
     * Spoof checking and trust only where {@code reported} (the VF as its PF reports it; null: unknown) shows that
     * the driver has them; the link state is left alone.
     */
    public static VfNetConfig cleared(VfInfo reported) {
        return new VfNetConfig("00:00:00:00:00:00", 0, 0, null, reported == null || reported.spoofchk() != null ? true : null,
                reported == null || reported.trust() != null ? false : null, null, 0, 0);
    }

    /**
     * The attributes that turn {@code actual} into this config, in the kernel's own order (MAC, VLAN, rate,
     * spoofchk, link state, trust); empty when nothing differs. {@code actual} null means unknown: send all.
     */
    public List<VfAttribute> changes(int vf, VfInfo actual) {
        List<VfAttribute> out = new ArrayList<>();
        if (mac != null && (actual == null || !mac.equals(actual.mac()))) {
            out.add(VfAttribute.Mac.of(vf, mac));
        }
        if (vlan != null) {
            int q = qos == null ? 0 : qos;
            int p = proto == null ? ETH_P_8021Q : protoNumber(proto);
            // with no tag the kernel reports proto 802.1Q whatever was asked, so ignore proto when vlan is 0
            if (actual == null || actual.vlan() != vlan || actual.qos() != q || (vlan != 0 && actual.vlanProto() != p)) {
                out.add(new VfAttribute.Vlan(vf, vlan, q, p));
            }
        }
        if (minTxRate != null || maxTxRate != null) {
            int min = minTxRate == null ? 0 : minTxRate;
            int max = maxTxRate == null ? 0 : maxTxRate;
            if (actual == null || actual.minTxRate() != min || actual.maxTxRate() != max) {
                out.add(new VfAttribute.Rate(vf, min, max));
            }
        }
        if (spoofchk != null && (actual == null || !Objects.equals(spoofchk, actual.spoofchk()))) {
            out.add(new VfAttribute.Spoofchk(vf, spoofchk));
        }
        if (linkState != null && (actual == null || !Objects.equals(linkStateNumber(linkState), actual.linkState()))) {
            out.add(new VfAttribute.LinkState(vf, linkStateNumber(linkState)));
        }
        if (trust != null && (actual == null || !Objects.equals(trust, actual.trust()))) {
            out.add(new VfAttribute.Trust(vf, trust));
        }
        return out;
    }
}

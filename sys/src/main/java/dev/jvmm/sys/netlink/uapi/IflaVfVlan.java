package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct ifla_vf_vlan} ({@code <linux/if_link.h>}), host byte order; u32 vf, u32 vlan (0-4095, 0 = none), u32 qos; always 802.1Q.
 */
@CStruct(value = "struct ifla_vf_vlan", headers = "linux/if_link.h")
public final class IflaVfVlan {
    @Sizeof public static final int SIZEOF = 12;
    @Offsetof("vf") public static final int VF = 0;
    @Offsetof("vlan") public static final int VLAN = 4;
    @Offsetof("qos") public static final int QOS = 8;

    private IflaVfVlan() {
    }
}

package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct ifla_vf_vlan_info} ({@code <linux/if_link.h>}), host byte order; u32 vf, u32 vlan, u32 qos, __be16 vlan_proto (network byte order), 2 pad.
 */
@CStruct(value = "struct ifla_vf_vlan_info", headers = "linux/if_link.h")
public final class IflaVfVlanInfo {
    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("vf") public static final int VF = 0;
    @Offsetof("vlan") public static final int VLAN = 4;
    @Offsetof("qos") public static final int QOS = 8;
    @Offsetof("vlan_proto") public static final int VLAN_PROTO = 12;

    private IflaVfVlanInfo() {
    }
}

package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CConstants;

/**
 * Link attribute numbers of {@code <linux/if_link.h>} (enums {@code IFLA_*}, {@code IFLA_VF_*}) and the VLAN
 * ethertypes of {@code <linux/if_ether.h>}; checked against the headers by sys's HeaderLayoutTest.
 */
@CConstants(headers = {"linux/if_link.h", "linux/if_ether.h"})
public final class IfLinkConstants {
    public static final int IFLA_ADDRESS = 1;
    public static final int IFLA_BROADCAST = 2;
    public static final int IFLA_IFNAME = 3;
    public static final int IFLA_MTU = 4;
    public static final int IFLA_LINK = 5;
    public static final int IFLA_MASTER = 10;
    public static final int IFLA_LINKINFO = 18;
    public static final int IFLA_INFO_KIND = 1;
    public static final int IFLA_INFO_DATA = 2;
    public static final int IFLA_MACVLAN_MODE = 1;
    public static final int MACVLAN_MODE_BRIDGE = 4;
    public static final int IFLA_OPERSTATE = 16;
    public static final int IFLA_NUM_VF = 21;
    public static final int IFLA_VFINFO_LIST = 22;
    public static final int IFLA_EXT_MASK = 29;
    public static final int IFLA_PERM_ADDRESS = 54;

    public static final int IFLA_VF_INFO = 1;

    public static final int IFLA_VF_MAC = 1;
    public static final int IFLA_VF_VLAN = 2;
    public static final int IFLA_VF_TX_RATE = 3;
    public static final int IFLA_VF_SPOOFCHK = 4;
    public static final int IFLA_VF_LINK_STATE = 5;
    public static final int IFLA_VF_RATE = 6;
    public static final int IFLA_VF_RSS_QUERY_EN = 7;
    public static final int IFLA_VF_STATS = 8;
    public static final int IFLA_VF_TRUST = 9;
    public static final int IFLA_VF_IB_NODE_GUID = 10;
    public static final int IFLA_VF_IB_PORT_GUID = 11;
    public static final int IFLA_VF_VLAN_LIST = 12;
    public static final int IFLA_VF_BROADCAST = 13;

    public static final int IFLA_VF_VLAN_INFO = 1;

    public static final int IFLA_VF_LINK_STATE_AUTO = 0;
    public static final int IFLA_VF_LINK_STATE_ENABLE = 1;
    public static final int IFLA_VF_LINK_STATE_DISABLE = 2;

    public static final int ETH_P_8021Q = 0x8100;
    public static final int ETH_P_8021AD = 0x88A8;

    private IfLinkConstants() {
    }
}

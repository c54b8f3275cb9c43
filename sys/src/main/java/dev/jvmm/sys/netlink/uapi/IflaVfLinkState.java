package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct ifla_vf_link_state} ({@code <linux/if_link.h>}), host byte order; u32 vf, u32 link_state (IFLA_VF_LINK_STATE_AUTO/ENABLE/DISABLE).
 */
@CStruct(value = "struct ifla_vf_link_state", headers = "linux/if_link.h")
public final class IflaVfLinkState {
    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("vf") public static final int VF = 0;
    @Offsetof("link_state") public static final int LINK_STATE = 4;

    private IflaVfLinkState() {
    }
}

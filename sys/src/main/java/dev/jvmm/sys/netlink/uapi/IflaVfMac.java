package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct ifla_vf_mac} ({@code <linux/if_link.h>}), host byte order; u32 vf, u8 mac[32] (MAX_ADDR_LEN).
 */
@CStruct(value = "struct ifla_vf_mac", headers = "linux/if_link.h")
public final class IflaVfMac {
    @Sizeof public static final int SIZEOF = 36;
    @Offsetof("vf") public static final int VF = 0;
    @Offsetof("mac") public static final int MAC = 4;

    private IflaVfMac() {
    }
}

package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct ifla_vf_broadcast} ({@code <linux/if_link.h>}), host byte order; u8 broadcast[32]; read only.
 */
@CStruct(value = "struct ifla_vf_broadcast", headers = "linux/if_link.h")
public final class IflaVfBroadcast {
    @Sizeof public static final int SIZEOF = 32;
    @Offsetof("broadcast") public static final int BROADCAST = 0;

    private IflaVfBroadcast() {
    }
}

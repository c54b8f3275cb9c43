package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct ifla_vf_trust} ({@code <linux/if_link.h>}), host byte order; u32 vf, u32 setting (reads back as 0xffffffff when the driver does not report it).
 */
@CStruct(value = "struct ifla_vf_trust", headers = "linux/if_link.h")
public final class IflaVfTrust {
    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("vf") public static final int VF = 0;
    @Offsetof("setting") public static final int SETTING = 4;

    private IflaVfTrust() {
    }
}

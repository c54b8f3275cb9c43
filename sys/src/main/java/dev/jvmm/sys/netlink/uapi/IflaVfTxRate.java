package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct ifla_vf_tx_rate} ({@code <linux/if_link.h>}), host byte order; u32 vf, u32 rate (Mbit/s max, 0 = off).
 */
@CStruct(value = "struct ifla_vf_tx_rate", headers = "linux/if_link.h")
public final class IflaVfTxRate {
    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("vf") public static final int VF = 0;
    @Offsetof("rate") public static final int RATE = 4;

    private IflaVfTxRate() {
    }
}

package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct ifla_vf_rate} ({@code <linux/if_link.h>}), host byte order; u32 vf, u32 min_tx_rate, u32 max_tx_rate (Mbit/s, 0 = off).
 */
@CStruct(value = "struct ifla_vf_rate", headers = "linux/if_link.h")
public final class IflaVfRate {
    @Sizeof public static final int SIZEOF = 12;
    @Offsetof("vf") public static final int VF = 0;
    @Offsetof("min_tx_rate") public static final int MIN_TX_RATE = 4;
    @Offsetof("max_tx_rate") public static final int MAX_TX_RATE = 8;

    private IflaVfRate() {
    }
}

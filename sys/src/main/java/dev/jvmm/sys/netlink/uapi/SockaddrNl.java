package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct sockaddr_nl} ({@code <linux/netlink.h>}), host byte order; u16 nl_family, u16 nl_pad, u32 nl_pid, u32 nl_groups.
 */
@CStruct(value = "struct sockaddr_nl", headers = "linux/netlink.h")
public final class SockaddrNl {
    @Sizeof public static final int SIZEOF = 12;
    @Offsetof("nl_family") public static final int NL_FAMILY = 0;
    @Offsetof("nl_pid") public static final int NL_PID = 4;
    @Offsetof("nl_groups") public static final int NL_GROUPS = 8;

    private SockaddrNl() {
    }
}

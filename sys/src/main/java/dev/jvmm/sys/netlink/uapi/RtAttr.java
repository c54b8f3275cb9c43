package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct rtattr} ({@code <linux/rtnetlink.h>}), host byte order; u16 rta_len (header + payload, unpadded), u16 rta_type; payload padded to 4.
 */
@CStruct(value = "struct rtattr", headers = "linux/rtnetlink.h")
public final class RtAttr {
    @Sizeof public static final int SIZEOF = 4;
    @Offsetof("rta_len") public static final int RTA_LEN = 0;
    @Offsetof("rta_type") public static final int RTA_TYPE = 2;

    private RtAttr() {
    }
}

package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct nlmsgerr} ({@code <linux/netlink.h>}), host byte order; int error followed by the offending request's nlmsghdr (then its payload unless capped, then ext-ack TLVs).
 */
@CStruct(value = "struct nlmsgerr", headers = "linux/netlink.h")
public final class NlMsgErr {
    @Sizeof public static final int SIZEOF = 20;
    @Offsetof("error") public static final int ERROR = 0;
    @Offsetof("msg") public static final int MSG = 4;

    private NlMsgErr() {
    }
}

package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct nlmsghdr} ({@code <linux/netlink.h>}), host byte order; u32 nlmsg_len, u16 nlmsg_type, u16 nlmsg_flags, u32 nlmsg_seq, u32 nlmsg_pid.
 */
@CStruct(value = "struct nlmsghdr", headers = "linux/netlink.h")
public final class NlMsgHdr {
    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("nlmsg_len") public static final int NLMSG_LEN = 0;
    @Offsetof("nlmsg_type") public static final int NLMSG_TYPE = 4;
    @Offsetof("nlmsg_flags") public static final int NLMSG_FLAGS = 6;
    @Offsetof("nlmsg_seq") public static final int NLMSG_SEQ = 8;
    @Offsetof("nlmsg_pid") public static final int NLMSG_PID = 12;

    private NlMsgHdr() {
    }
}

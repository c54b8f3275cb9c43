package dev.jvmm.sys.uapi;

/** Layout of {@code struct msghdr} (sendmsg/recvmsg) on x86-64. */
@CStruct(value = "struct msghdr", headers = "sys/socket.h")
public final class MsgHdr {
    @Sizeof public static final int SIZEOF = 56;
    @Offsetof("msg_name") public static final int NAME = 0;
    @Offsetof("msg_namelen") public static final int NAMELEN = 8;
    @Offsetof("msg_iov") public static final int IOV = 16;
    @Offsetof("msg_iovlen") public static final int IOVLEN = 24;
    @Offsetof("msg_control") public static final int CONTROL = 32;
    @Offsetof("msg_controllen") public static final int CONTROLLEN = 40;
    @Offsetof("msg_flags") public static final int FLAGS = 48;

    private MsgHdr() {
    }
}

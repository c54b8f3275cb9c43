package dev.jvmm.sys.netlink.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct ifinfomsg} ({@code <linux/rtnetlink.h>}), host byte order; u8 ifi_family, u8 pad, u16 ifi_type, s32 ifi_index, u32 ifi_flags, u32 ifi_change.
 */
@CStruct(value = "struct ifinfomsg", headers = "linux/rtnetlink.h")
public final class IfInfoMsg {
    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("ifi_family") public static final int IFI_FAMILY = 0;
    @Offsetof("ifi_type") public static final int IFI_TYPE = 2;
    @Offsetof("ifi_index") public static final int IFI_INDEX = 4;
    @Offsetof("ifi_flags") public static final int IFI_FLAGS = 8;
    @Offsetof("ifi_change") public static final int IFI_CHANGE = 12;

    private IfInfoMsg() {
    }
}

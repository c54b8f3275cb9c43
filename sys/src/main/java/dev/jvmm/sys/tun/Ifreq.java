package dev.jvmm.sys.tun;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct ifreq} ({@code <net/if.h>}, x86-64), the parts TUN/TAP and interface-flag ioctls use.
 * <pre>
 * struct ifreq {
 *     union { char ifrn_name[IFNAMSIZ]; } ifr_ifrn;            // ifr_name
 *     union { ...; short ifru_flags; ...; char ifru_pad[24]; } ifr_ifru;  // ifr_flags
 * };
 * </pre>
 */
@CStruct(value = "struct ifreq", headers = "net/if.h")
public final class Ifreq {
    private Ifreq() {
    }

    /** IFNAMSIZ: interface names are at most 15 bytes plus NUL. */
    public static final int IFNAMSIZ = 16;
    @Sizeof public static final int SIZEOF = 40;
    @Offsetof("ifr_name") public static final int IFR_NAME = 0;
    @Offsetof("ifr_flags") public static final int IFR_FLAGS = 16;
    @Offsetof("ifr_ifindex") public static final int IFR_IFINDEX = 16;
}

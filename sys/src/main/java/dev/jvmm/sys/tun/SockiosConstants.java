package dev.jvmm.sys.tun;

import dev.jvmm.sys.uapi.CConstants;

/** Interface ioctls on an AF_INET socket ({@code <linux/sockios.h>}) and interface flags ({@code <net/if.h>}). */
@CConstants(headers = {"linux/sockios.h", "net/if.h", "sys/socket.h"})
public final class SockiosConstants {
    private SockiosConstants() {
    }

    public static final int SIOCGIFFLAGS = 0x8913;
    public static final int SIOCSIFFLAGS = 0x8914;
    public static final int SIOCGIFINDEX = 0x8933;
    public static final int IFF_UP = 0x1;
    public static final int AF_INET = 2;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_CLOEXEC = 02000000;
}

package dev.jvmm.sys.tun;

import dev.jvmm.sys.Ioctl;
import dev.jvmm.sys.uapi.CConstants;

/**
 * TUN/TAP ioctls and flags ({@code <linux/if_tun.h>}); every value is checked against the header by
 * HeaderLayoutTest. The ioctl numbers are encoded from their argument types as the header does.
 */
@CConstants(headers = "linux/if_tun.h")
public final class TunConstants {
    private TunConstants() {
    }

    private static final int T = 'T';
    /** {@code _IOW('T', 202, int)}: attach to (or create) the interface named in a {@code struct ifreq}. */
    public static final long TUNSETIFF = Ioctl.iow(T, 202, 4);
    /** {@code _IOW('T', 203, int)}. */
    public static final long TUNSETPERSIST = Ioctl.iow(T, 203, 4);
    /** {@code _IOR('T', 210, unsigned int)}: the queue's interface name and flags. */
    public static final long TUNGETIFF = Ioctl.ior(T, 210, 4);
    /** {@code _IOW('T', 208, unsigned int)}: offloads the reader accepts (TUN_F_*). */
    public static final long TUNSETOFFLOAD = Ioctl.iow(T, 208, 4);
    /** {@code _IOR('T', 207, unsigned int)}: which IFF_* flags the driver supports. */
    public static final long TUNGETFEATURES = Ioctl.ior(T, 207, 4);
    /** {@code _IOW('T', 216, int)}: size of the virtio-net header that prefixes each packet. */
    public static final long TUNSETVNETHDRSZ = Ioctl.iow(T, 216, 4);
    /** {@code _IOW('T', 217, int)}: attach or detach one queue of a multiqueue interface. */
    public static final long TUNSETQUEUE = Ioctl.iow(T, 217, 4);

    public static final int IFF_TUN = 0x0001;
    public static final int IFF_TAP = 0x0002;
    public static final int IFF_NO_PI = 0x1000;
    public static final int IFF_VNET_HDR = 0x4000;
    public static final int IFF_MULTI_QUEUE = 0x0100;
    public static final int IFF_ATTACH_QUEUE = 0x0200;
    public static final int IFF_DETACH_QUEUE = 0x0400;
    public static final int IFF_PERSIST = 0x0800;

    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
    public static final int TUN_F_TSO6 = 0x04;
    public static final int TUN_F_TSO_ECN = 0x08;
    public static final int TUN_F_UFO = 0x10;
}

package dev.jvmm.sys.vhost.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vhost_vring_addr} ({@code <linux/vhost_types.h>}), the argument of
 * {@code VHOST_SET_VRING_ADDR}. The three ring addresses are host virtual addresses (the VMM's mapping of guest
 * RAM); {@code log_guest_addr} is the guest-physical address of the used ring, used only when {@code flags} has
 * bit {@link VhostConstants#VHOST_VRING_F_LOG}.
 * <pre>
 * struct vhost_vring_addr { unsigned int index; unsigned int flags; __u64 desc_user_addr;
 *   __u64 used_user_addr; __u64 avail_user_addr; __u64 log_guest_addr; };
 * </pre>
 */
@CStruct(value = "struct vhost_vring_addr", headers = "linux/vhost.h")
public final class VhostVringAddr {
    private VhostVringAddr() {
    }

    @Sizeof public static final int SIZEOF = 40;
    @Offsetof("index") public static final int INDEX = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("desc_user_addr") public static final int DESC_USER_ADDR = 8;
    @Offsetof("used_user_addr") public static final int USED_USER_ADDR = 16;
    @Offsetof("avail_user_addr") public static final int AVAIL_USER_ADDR = 24;
    @Offsetof("log_guest_addr") public static final int LOG_GUEST_ADDR = 32;
}

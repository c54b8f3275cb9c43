package dev.jvmm.sys.vhost.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vhost_vring_file} ({@code <linux/vhost_types.h>}), the argument of
 * {@code VHOST_SET_VRING_KICK}, {@code _CALL}, {@code _ERR} and {@code VHOST_NET_SET_BACKEND}; an {@code fd} of
 * {@link VhostConstants#VHOST_FILE_UNBIND} (-1) unbinds.
 * <pre>
 * struct vhost_vring_file { unsigned int index; int fd; };
 * </pre>
 */
@CStruct(value = "struct vhost_vring_file", headers = "linux/vhost.h")
public final class VhostVringFile {
    private VhostVringFile() {
    }

    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("index") public static final int INDEX = 0;
    @Offsetof("fd") public static final int FD = 4;
}

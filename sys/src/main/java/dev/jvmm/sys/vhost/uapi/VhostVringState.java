package dev.jvmm.sys.vhost.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vhost_vring_state} ({@code <linux/vhost_types.h>}), the argument of
 * {@code VHOST_SET_VRING_NUM}, {@code VHOST_SET_VRING_BASE} and {@code VHOST_GET_VRING_BASE} (which reads
 * {@code index} and writes {@code num}).
 * <pre>
 * struct vhost_vring_state { unsigned int index; unsigned int num; };
 * </pre>
 */
@CStruct(value = "struct vhost_vring_state", headers = "linux/vhost.h")
public final class VhostVringState {
    private VhostVringState() {
    }

    @Sizeof public static final int SIZEOF = 8;
    @Offsetof("index") public static final int INDEX = 0;
    @Offsetof("num") public static final int NUM = 4;
}

package dev.jvmm.virtio.vsock;

import dev.jvmm.sys.uapi.CConstants;
import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/** virtio-vsock structures and constants ({@code <linux/virtio_vsock.h>}, virtio 1.2 §5.10); header-checked. */
public final class VirtioVsockLayout {
    private VirtioVsockLayout() {
    }

    /** {@code struct virtio_vsock_config { __le64 guest_cid; }}: the device configuration space. */
    @CStruct(value = "struct virtio_vsock_config", headers = "linux/virtio_vsock.h")
    public static final class Config {
        private Config() {
        }

        @Sizeof public static final int SIZEOF = 8;
        @Offsetof("guest_cid") public static final int GUEST_CID = 0;
    }

    /** {@code struct virtio_vsock_event { __le32 id; }}: what the device puts in an event-queue buffer. */
    @CStruct(value = "struct virtio_vsock_event", headers = "linux/virtio_vsock.h")
    public static final class Event {
        private Event() {
        }

        @Sizeof public static final int SIZEOF = 4;
        @Offsetof("id") public static final int ID = 0;
    }

    @CConstants(headers = {"linux/virtio_ids.h", "linux/virtio_vsock.h"})
    public static final class Constants {
        private Constants() {
        }

        public static final int VIRTIO_ID_VSOCK = 19;
        /** Feature bit: SOCK_SEQPACKET sockets too (vhost-vsock of Linux 5.14 and later offers it). */
        public static final int VIRTIO_VSOCK_F_SEQPACKET = 1;
        /** {@code enum virtio_vsock_event_id}: the transport was reset (e.g. after a migration); connections are gone. */
        public static final int VIRTIO_VSOCK_EVENT_TRANSPORT_RESET = 0;
    }
}

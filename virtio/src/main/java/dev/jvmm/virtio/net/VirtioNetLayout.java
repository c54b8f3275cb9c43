package dev.jvmm.virtio.net;

import dev.jvmm.sys.uapi.CConstants;
import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/** virtio-net structures and constants ({@code <linux/virtio_net.h>}, virtio 1.2 §5.1); header-checked. */
public final class VirtioNetLayout {
    private VirtioNetLayout() {
    }

    @CStruct(value = "struct virtio_net_config", headers = "linux/virtio_net.h")
    public static final class Config {
        private Config() {
        }

        @Offsetof("mac") public static final int MAC = 0;
        @Offsetof("status") public static final int STATUS = 6;
        @Offsetof("max_virtqueue_pairs") public static final int MAX_VIRTQUEUE_PAIRS = 8;
        @Offsetof("mtu") public static final int MTU = 10;
        /** What this device exposes (through mtu). */
        public static final int SIZE = 12;
    }

    /** {@code struct virtio_net_hdr_mrg_rxbuf}: the 12-byte header of every packet under VERSION_1. */
    @CStruct(value = "struct virtio_net_hdr_mrg_rxbuf", headers = "linux/virtio_net.h")
    public static final class Hdr {
        private Hdr() {
        }

        @Sizeof public static final int SIZEOF = 12;
        @Offsetof("num_buffers") public static final int NUM_BUFFERS = 10;
    }

    @CStruct(value = "struct virtio_net_ctrl_hdr", headers = "linux/virtio_net.h")
    public static final class CtrlHdr {
        private CtrlHdr() {
        }

        @Sizeof public static final int SIZEOF = 2;
        @Offsetof("class") public static final int CLASS = 0;
        @Offsetof("cmd") public static final int CMD = 1;
    }

    @CConstants(headers = "linux/virtio_net.h")
    public static final class Constants {
        private Constants() {
        }

        public static final int VIRTIO_NET_F_CSUM = 0;
        public static final int VIRTIO_NET_F_GUEST_CSUM = 1;
        public static final int VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 2;
        public static final int VIRTIO_NET_F_MAC = 5;
        public static final int VIRTIO_NET_F_GUEST_TSO4 = 7;
        public static final int VIRTIO_NET_F_GUEST_TSO6 = 8;
        public static final int VIRTIO_NET_F_GUEST_ECN = 9;
        public static final int VIRTIO_NET_F_GUEST_UFO = 10;
        public static final int VIRTIO_NET_F_HOST_TSO4 = 11;
        public static final int VIRTIO_NET_F_HOST_TSO6 = 12;
        public static final int VIRTIO_NET_F_HOST_ECN = 13;
        public static final int VIRTIO_NET_F_HOST_UFO = 14;
        public static final int VIRTIO_NET_F_MRG_RXBUF = 15;
        public static final int VIRTIO_NET_F_STATUS = 16;
        public static final int VIRTIO_NET_F_CTRL_VQ = 17;
        public static final int VIRTIO_NET_F_CTRL_RX = 18;
        public static final int VIRTIO_NET_F_GUEST_ANNOUNCE = 21;
        public static final int VIRTIO_NET_F_MQ = 22;
        public static final int VIRTIO_NET_F_CTRL_MAC_ADDR = 23;
        /** The device is the standby of a failover pair: the driver pairs it with the primary of its MAC. */
        public static final int VIRTIO_NET_F_STANDBY = 62;
        public static final int VIRTIO_NET_S_LINK_UP = 1;
        public static final int VIRTIO_NET_S_ANNOUNCE = 2;
        public static final int VIRTIO_NET_OK = 0;
        public static final int VIRTIO_NET_ERR = 1;
        public static final int VIRTIO_NET_CTRL_RX = 0;
        public static final int VIRTIO_NET_CTRL_RX_PROMISC = 0;
        public static final int VIRTIO_NET_CTRL_RX_ALLMULTI = 1;
        public static final int VIRTIO_NET_CTRL_RX_ALLUNI = 2;
        public static final int VIRTIO_NET_CTRL_RX_NOMULTI = 3;
        public static final int VIRTIO_NET_CTRL_RX_NOUNI = 4;
        public static final int VIRTIO_NET_CTRL_RX_NOBCAST = 5;
        public static final int VIRTIO_NET_CTRL_MAC = 1;
        public static final int VIRTIO_NET_CTRL_MAC_TABLE_SET = 0;
        public static final int VIRTIO_NET_CTRL_MAC_ADDR_SET = 1;
        public static final int VIRTIO_NET_CTRL_ANNOUNCE = 3;
        public static final int VIRTIO_NET_CTRL_ANNOUNCE_ACK = 0;
        public static final int VIRTIO_NET_CTRL_MQ = 4;
        public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0;
        public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN = 1;
        public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX = 0x8000;
        public static final int VIRTIO_NET_CTRL_GUEST_OFFLOADS = 5;
        public static final int VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET = 0;
    }
}

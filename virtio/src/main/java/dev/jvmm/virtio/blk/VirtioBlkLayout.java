package dev.jvmm.virtio.blk;

import dev.jvmm.sys.uapi.CConstants;
import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/** virtio-blk structures and constants ({@code <linux/virtio_blk.h>}, virtio 1.2 §5.2); header-checked. */
public final class VirtioBlkLayout {
    private VirtioBlkLayout() {
    }

    /** {@code struct virtio_blk_config}. */
    @CStruct(value = "struct virtio_blk_config", headers = "linux/virtio_blk.h")
    public static final class Config {
        private Config() {
        }

        @Offsetof("capacity") public static final int CAPACITY = 0;
        @Offsetof("size_max") public static final int SIZE_MAX = 8;
        @Offsetof("seg_max") public static final int SEG_MAX = 12;
        @Offsetof("blk_size") public static final int BLK_SIZE = 20;
        @Offsetof("wce") public static final int WCE = 32;
        @Offsetof("num_queues") public static final int NUM_QUEUES = 34;
        @Offsetof("max_discard_sectors") public static final int MAX_DISCARD_SECTORS = 36;
        @Offsetof("max_discard_seg") public static final int MAX_DISCARD_SEG = 40;
        @Offsetof("discard_sector_alignment") public static final int DISCARD_SECTOR_ALIGNMENT = 44;
        @Offsetof("max_write_zeroes_sectors") public static final int MAX_WRITE_ZEROES_SECTORS = 48;
        @Offsetof("max_write_zeroes_seg") public static final int MAX_WRITE_ZEROES_SEG = 52;
        @Offsetof("write_zeroes_may_unmap") public static final int WRITE_ZEROES_MAY_UNMAP = 56;
        /** Through write_zeroes_may_unmap and its padding; the secure-erase fields are not offered. */
        public static final int SIZE = 60;
    }

    /** {@code struct virtio_blk_outhdr}: the request header. */
    @CStruct(value = "struct virtio_blk_outhdr", headers = "linux/virtio_blk.h")
    public static final class OutHdr {
        private OutHdr() {
        }

        @Sizeof public static final int SIZEOF = 16;
        @Offsetof("type") public static final int TYPE = 0;
        @Offsetof("sector") public static final int SECTOR = 8;
    }

    /** {@code struct virtio_blk_discard_write_zeroes}: one DISCARD/WRITE_ZEROES segment. */
    @CStruct(value = "struct virtio_blk_discard_write_zeroes", headers = "linux/virtio_blk.h")
    public static final class DiscardWriteZeroes {
        private DiscardWriteZeroes() {
        }

        @Sizeof public static final int SIZEOF = 16;
        @Offsetof("sector") public static final int SECTOR = 0;
        @Offsetof("num_sectors") public static final int NUM_SECTORS = 8;
        @Offsetof("flags") public static final int FLAGS = 12;
    }

    @CConstants(headers = "linux/virtio_blk.h")
    public static final class Constants {
        private Constants() {
        }

        public static final int VIRTIO_BLK_F_SIZE_MAX = 1;
        public static final int VIRTIO_BLK_F_SEG_MAX = 2;
        public static final int VIRTIO_BLK_F_RO = 5;
        public static final int VIRTIO_BLK_F_BLK_SIZE = 6;
        public static final int VIRTIO_BLK_F_FLUSH = 9;
        public static final int VIRTIO_BLK_F_MQ = 12;
        public static final int VIRTIO_BLK_F_DISCARD = 13;
        public static final int VIRTIO_BLK_F_WRITE_ZEROES = 14;
        public static final int VIRTIO_BLK_T_IN = 0;
        public static final int VIRTIO_BLK_T_OUT = 1;
        public static final int VIRTIO_BLK_T_FLUSH = 4;
        public static final int VIRTIO_BLK_T_GET_ID = 8;
        public static final int VIRTIO_BLK_T_DISCARD = 11;
        public static final int VIRTIO_BLK_T_WRITE_ZEROES = 13;
        public static final int VIRTIO_BLK_S_OK = 0;
        public static final int VIRTIO_BLK_S_IOERR = 1;
        public static final int VIRTIO_BLK_S_UNSUPP = 2;
        public static final int VIRTIO_BLK_ID_BYTES = 20;
        public static final int VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;
    }
}

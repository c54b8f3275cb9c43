package dev.jvmm.virtio.balloon;

import dev.jvmm.sys.uapi.CConstants;
import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/** virtio-balloon structures and constants ({@code <linux/virtio_balloon.h>}, virtio 1.2 §5.5); header-checked. */
public final class VirtioBalloonLayout {
    private VirtioBalloonLayout() {
    }

    /** {@code struct virtio_balloon_config}. */
    @CStruct(value = "struct virtio_balloon_config", headers = "linux/virtio_balloon.h")
    public static final class Config {
        private Config() {
        }

        @Offsetof("num_pages") public static final int NUM_PAGES = 0;
        @Offsetof("actual") public static final int ACTUAL = 4;
        @Offsetof("free_page_hint_cmd_id") public static final int FREE_PAGE_HINT_CMD_ID = 8;
        @Offsetof("poison_val") public static final int POISON_VAL = 12;
        @Sizeof public static final int SIZE = 16;
    }

    /** {@code struct virtio_balloon_stat}: one packed {tag, value} of the stats buffer. */
    @CStruct(value = "struct virtio_balloon_stat", headers = "linux/virtio_balloon.h")
    public static final class Stat {
        private Stat() {
        }

        @Sizeof public static final int SIZEOF = 10;
        @Offsetof("tag") public static final int TAG = 0;
        @Offsetof("val") public static final int VAL = 2;
    }

    @CConstants(headers = "linux/virtio_balloon.h")
    public static final class Constants {
        private Constants() {
        }

        public static final int VIRTIO_BALLOON_F_MUST_TELL_HOST = 0;
        public static final int VIRTIO_BALLOON_F_STATS_VQ = 1;
        public static final int VIRTIO_BALLOON_F_DEFLATE_ON_OOM = 2;
        public static final int VIRTIO_BALLOON_F_FREE_PAGE_HINT = 3;
        public static final int VIRTIO_BALLOON_F_PAGE_POISON = 4;
        public static final int VIRTIO_BALLOON_F_REPORTING = 5;
        public static final int VIRTIO_BALLOON_PFN_SHIFT = 12;
        public static final int VIRTIO_BALLOON_S_SWAP_IN = 0;
        public static final int VIRTIO_BALLOON_S_SWAP_OUT = 1;
        public static final int VIRTIO_BALLOON_S_MAJFLT = 2;
        public static final int VIRTIO_BALLOON_S_MINFLT = 3;
        public static final int VIRTIO_BALLOON_S_MEMFREE = 4;
        public static final int VIRTIO_BALLOON_S_MEMTOT = 5;
        public static final int VIRTIO_BALLOON_S_AVAIL = 6;
        public static final int VIRTIO_BALLOON_S_CACHES = 7;
        public static final int VIRTIO_BALLOON_S_HTLB_PGALLOC = 8;
        public static final int VIRTIO_BALLOON_S_HTLB_PGFAIL = 9;
    }

    /**
     * The stats' names by tag, as Linux's {@code VIRTIO_BALLOON_S_NAMES} spells them (tags 0..9 are in every header;
     * 10..15 came with Linux 6.12's reclaim statistics and are not in older headers, so they are not checked against
     * them). A tag past the table is named {@code tag-N}.
     */
    static final String[] STAT_NAMES = {"swap-in", "swap-out", "major-faults", "minor-faults", "free-memory",
        "total-memory", "available-memory", "disk-caches", "hugetlb-allocations", "hugetlb-failures", "oom-kills",
        "alloc-stalls", "async-scans", "direct-scans", "async-reclaims", "direct-reclaims"};

    /** The name of stat {@code tag} (see {@link #STAT_NAMES}). */
    public static String statName(int tag) {
        return tag >= 0 && tag < STAT_NAMES.length ? STAT_NAMES[tag] : "tag-" + tag;
    }
}

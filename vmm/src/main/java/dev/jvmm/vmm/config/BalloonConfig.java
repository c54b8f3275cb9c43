package dev.jvmm.vmm.config;

/**
 * The configuration of a virtio-balloon device ({@code --balloon}, docs/virtio.md).
 *
 * @param size              the initial target in bytes (what the guest is asked to give back at boot), a whole
 *                          number of 4 KiB pages below the guest's RAM; 0 by default
 * @param freePageReporting offer free page reporting ({@code free-page-reporting=on}): the guest hands back free
 *                          memory on its own, and jvmm's RSS follows what the guest uses
 * @param deflateOnOom      offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM ({@code deflate-on-oom=on}): the guest takes pages
 *                          back from the balloon rather than run out of memory
 * @param statsSeconds      offer the stats queue and ask for fresh guest memory stats this often
 *                          ({@code stats=SECONDS}); 0: no stats
 */
public record BalloonConfig(long size, boolean freePageReporting, boolean deflateOnOom, int statsSeconds) {
    /** The keys of {@code --balloon} and of the config file's {@code "balloon"} object. */
    public static final java.util.List<String> KEYS = java.util.List.of("size", "free-page-reporting",
            "deflate-on-oom", "stats");
    /** The longest stats interval: a day. */
    public static final int MAX_STATS_SECONDS = 86400;
}

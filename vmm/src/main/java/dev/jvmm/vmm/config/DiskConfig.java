package dev.jvmm.vmm.config;

import dev.jvmm.virtio.blk.AioMode;
import dev.jvmm.virtio.blk.CacheMode;
import java.nio.file.Path;

/**
 * One {@code --disk} (or one entry of the config file's {@code "disks"}): a virtio-blk device backed by a raw or
 * qcow2 image file or a block device.
 *
 * @param path     the image file or block device
 * @param readOnly the guest sees VIRTIO_BLK_F_RO and every write fails; the file is opened O_RDONLY
 * @param cache    host cache mode (see docs/virtio.md)
 * @param id       the serial the guest reads with GET_ID ({@code /sys/block/vdX/serial}), at most 20 bytes; null:
 *                 the device name
 * @param queues   request queues (1..64), one device thread each
 * @param aio      how requests reach the host, each queue keeping many in flight: {@code threads} (a pool of I/O
 *                 threads), {@code io_uring}, or {@code auto} (io_uring where the kernel allows it)
 * @param format   {@code raw} or {@code qcow2}; null: detected from the file's header (docs/qcow2.md)
 */
public record DiskConfig(Path path, boolean readOnly, CacheMode cache, String id, int queues, AioMode aio,
        String format) {
    /** The keys {@code --disk} accepts, in the order error messages list them. */
    public static final java.util.List<String> KEYS = java.util.List.of("path", "readonly", "cache", "id", "queues",
            "aio", "format");

    /** A disk whose format is detected from its header. */
    public DiskConfig(Path path, boolean readOnly, CacheMode cache, String id, int queues, AioMode aio) {
        this(path, readOnly, cache, id, queues, aio, null);
    }

    /** A disk with {@code aio=auto}. */
    public DiskConfig(Path path, boolean readOnly, CacheMode cache, String id, int queues) {
        this(path, readOnly, cache, id, queues, AioMode.AUTO);
    }
    public static final int MAX_QUEUES = 64;
    public static final int MAX_ID_BYTES = 20;
}

package dev.jvmm.virtio.blk;

import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.uring.IoUring;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Both real engines ({@code aio=threads} and {@code aio=io_uring}) in every cache mode that opens the file
 * differently (none: O_DIRECT, writeback, writethrough: O_DSYNC) against a real image file, driven at depth by a
 * simulated driver: 64 writes of 4 to 64 KiB in one kick, a flush, 64 reads back (some into misaligned buffers, which
 * cache=none bounces), then a second round rewriting every other block while the others are read, each request
 * checked against what the file holds. io_uring cases are skipped, saying why, only where the kernel refuses it.
 */
@Timeout(120)
class VirtioBlkEnginesTest {
    static final long HDR = 0x80000, STATUS = 0x90000, WBUF = 0x100000, RBUF = 0x800000;
    static final int N = 64, MAX = 64 * 1024;

    @TempDir Path tmp;
    GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, 16 << 20)));
    TestIrqs irqs = new TestIrqs();
    VirtioPciDevice dev;
    DepthDriver d;

    @AfterEach
    void close() {
        if (d != null) {
            d.close();
        }
        if (dev != null) {
            dev.close();
        }
        irqs.close();
        mem.close();
    }

    static Stream<Arguments> engines() {
        List<Arguments> a = new ArrayList<>();
        for (AioMode m : new AioMode[] {AioMode.THREADS, AioMode.IO_URING}) {
            for (CacheMode c : new CacheMode[] {CacheMode.NONE, CacheMode.WRITEBACK, CacheMode.WRITETHROUGH}) {
                a.add(Arguments.of(m, c));
            }
        }
        return a.stream();
    }

    @ParameterizedTest(name = "aio={0} cache={1}")
    @MethodSource("engines")
    void writesFlushAndReadsAtDepthMatchTheFile(AioMode aio, CacheMode cache) throws Exception {
        if (aio == AioMode.IO_URING) {
            String why = IoUring.unavailableReason();
            if (why != null) {
                System.out.println("aio=io_uring case skipped: " + why);
            }
            Assumptions.assumeTrue(why == null, () -> "io_uring is not usable here: " + why);
        }
        Path img = tmp.resolve("disk.img");
        Files.write(img, new byte[8 << 20]);
        VirtioBlk blk = new VirtioBlk("virtio-blk-0", BlockBackend.open(img.toString(), false, cache), 1, null, aio);
        assertEquals(aio, blk.aio());
        dev = new VirtioPciDevice(blk, mem, irqs, null, -1);
        PciTestDriver drv = new PciTestDriver(dev, mem, 0x10000);
        assertEquals(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK, drv.init(VirtioBlkTest.ALL, 1, 256));
        d = new DepthDriver(mem, drv, irqs, 0, HDR, STATUS);

        Random rnd = new Random(aio.ordinal() * 10 + cache.ordinal());
        int[] len = new int[N];
        long[] sector = new long[N];
        byte[][] data = new byte[N][];
        for (int k = 0; k < N; k++) {
            len[k] = 4096 * (1 + rnd.nextInt(16));
            sector[k] = (long) k * (MAX / 512); // block k is [k * 64 KiB, k * 64 KiB + len)
            data[k] = new byte[len[k]];
            rnd.nextBytes(data[k]);
            mem.write(WBUF + (long) MAX * k, data[k], 0, len[k]);
            d.publish(k, VIRTIO_BLK_T_OUT, sector[k], WBUF + (long) MAX * k, len[k]);
        }
        d.kick();
        d.awaitAll(N, VIRTIO_BLK_S_OK);
        assertEquals(N, blk.maxInFlight(), "the 64 writes were all in flight at once");
        d.publish(0, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        d.kick();
        d.awaitAll(1, VIRTIO_BLK_S_OK);
        byte[] file = Files.readAllBytes(img);
        for (int k = 0; k < N; k++) {
            int off = (int) sector[k] * 512;
            assertArrayEquals(data[k], Arrays.copyOfRange(file, off, off + len[k]), "block " + k + " in the file");
        }

        // read back, every fourth into a buffer that is not 512-byte aligned (bounced with cache=none)
        long[] rbuf = new long[N];
        for (int k = 0; k < N; k++) {
            rbuf[k] = RBUF + (long) (MAX + 4096) * k + (k % 4 == 3 ? 100 : 0);
            mem.write(rbuf[k], new byte[len[k]], 0, len[k]);
            d.publish(k, VIRTIO_BLK_T_IN, sector[k], rbuf[k], len[k]);
        }
        d.kick();
        d.awaitAll(N, VIRTIO_BLK_S_OK);
        for (int k = 0; k < N; k++) {
            byte[] back = new byte[len[k]];
            mem.read(rbuf[k], back, 0, len[k]);
            assertArrayEquals(data[k], back, "block " + k + " read back");
        }
        assertEquals(cache == CacheMode.NONE ? N / 4 : 0, blk.bounced());

        // reads and writes in flight together: even blocks rewritten, odd ones read, then a flush behind them
        for (int k = 0; k < N; k++) {
            if (k % 2 == 0) {
                rnd.nextBytes(data[k]);
                mem.write(WBUF + (long) MAX * k, data[k], 0, len[k]);
                d.publish(k, VIRTIO_BLK_T_OUT, sector[k], WBUF + (long) MAX * k, len[k]);
            } else {
                mem.write(rbuf[k], new byte[len[k]], 0, len[k]);
                d.publish(k, VIRTIO_BLK_T_IN, sector[k], rbuf[k], len[k]);
            }
        }
        d.publish(N, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        d.kick();
        d.awaitAll(N + 1, VIRTIO_BLK_S_OK);
        file = Files.readAllBytes(img);
        for (int k = 0; k < N; k++) {
            int off = (int) sector[k] * 512;
            assertArrayEquals(data[k], Arrays.copyOfRange(file, off, off + len[k]), "round 2, block " + k);
            if (k % 2 == 1) {
                byte[] back = new byte[len[k]];
                mem.read(rbuf[k], back, 0, len[k]);
                assertArrayEquals(data[k], back, "round 2, block " + k + " read");
            }
        }
        assertEquals(0, blk.ioErrors());
        assertEquals(2, blk.flushes());
    }
}

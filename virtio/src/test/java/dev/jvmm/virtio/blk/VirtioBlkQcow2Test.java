package dev.jvmm.virtio.blk;

import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.blk.VirtioBlkLayout.Constants.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.uring.IoUring;
import dev.jvmm.virtio.pci.PciTestDriver;
import dev.jvmm.virtio.pci.TestIrqs;
import dev.jvmm.virtio.pci.VirtioPciDevice;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * virtio-blk over a qcow2 image with a backing file, driven at depth by a simulated driver with both engines and
 * the cache modes that open the file differently: batches of reads and writes in flight together (sizes that span
 * clusters, some into misaligned buffers), flushes, each read checked against a raw truth kept in parallel; then
 * {@code qemu-img check} accepts the image and {@code qemu-img compare} finds it equal to the truth.
 */
@Timeout(180)
class VirtioBlkQcow2Test {
    static final long HDR = 0x80000, STATUS = 0x90000, BUF = 0x100000;
    static final int N = 48, SLOT = 192 * 1024;

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

    static String qemu(String... cmd) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            throw new AssertionError(cmd[0] + " is needed by this test (apt-get install qemu-utils; ./run-tests does)", e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
        return out;
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
    void readsAndWritesAtDepthOverABackingFile(AioMode aio, CacheMode cache) throws Exception {
        Path base = tmp.resolve("base.qcow2");
        qemu("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", base.toString(), "12M");
        qemu("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 5M", "-c", "write -P 0x6b 7M 3M", base.toString());
        Path top = tmp.resolve("top.qcow2");
        qemu("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "base.qcow2", "-F", "qcow2",
                top.toString(), "12M");
        requestsAtDepth(top, aio, cache);
        qemu("qemu-img", "check", base.toString());
    }

    /**
     * The same on an image with nothing allocated and no backing file (64 KiB clusters, so most writes cover part of
     * a cluster): first writes are mapped to new clusters and go straight from guest memory, in flight together.
     */
    @ParameterizedTest(name = "aio={0} cache={1}")
    @MethodSource("engines")
    void readsAndWritesAtDepthOnAFreshImage(AioMode aio, CacheMode cache) throws Exception {
        Path img = tmp.resolve("fresh.qcow2");
        qemu("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", img.toString(), "12M");
        requestsAtDepth(img, aio, cache);
    }

    /**
     * Rounds of N requests in flight on distinct slots of {@code top}, reads checked against the truth as they come;
     * afterwards the image passes {@code qemu-img check} and equals the truth.
     */
    private void requestsAtDepth(Path top, AioMode aio, CacheMode cache) throws Exception {
        if (aio == AioMode.IO_URING) {
            String why = IoUring.unavailableReason();
            Assumptions.assumeTrue(why == null, () -> "io_uring is not usable here: " + why);
        }
        Path truthFile = tmp.resolve("truth.raw");
        qemu("qemu-img", "convert", "-O", "raw", top.toString(), truthFile.toString());
        byte[] truth = Files.readAllBytes(truthFile);

        BlockBackend be = BlockBackend.open(top.toString(), false, cache);
        assertEquals("qcow2", be.format());
        assertEquals(12 << 20, be.size());
        VirtioBlk blk = new VirtioBlk("virtio-blk-0", be, 1, null, aio);
        dev = new VirtioPciDevice(blk, mem, irqs, null, -1);
        PciTestDriver drv = new PciTestDriver(dev, mem, 0x10000);
        assertEquals(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK
                | VIRTIO_CONFIG_S_DRIVER_OK, drv.init(VirtioBlkTest.ALL, 1, 256));
        d = new DepthDriver(mem, drv, irqs, 0, HDR, STATUS);

        Random rnd = new Random(aio.ordinal() * 10 + cache.ordinal());
        int slots = truth.length / SLOT;
        for (int round = 0; round < 12; round++) {
            // N requests on distinct slots of the disk, so that their order does not matter
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < slots; i++) {
                order.add(i);
            }
            java.util.Collections.shuffle(order, rnd);
            long[] off = new long[N];
            int[] len = new int[N];
            boolean[] write = new boolean[N];
            long[] buf = new long[N];
            for (int k = 0; k < N; k++) {
                len[k] = 512 * (1 + rnd.nextInt(SLOT / 512 / 2));
                off[k] = (long) order.get(k) * SLOT + 512L * rnd.nextInt((SLOT - len[k]) / 512 + 1);
                write[k] = rnd.nextBoolean();
                buf[k] = BUF + (long) (SLOT + 4096) * k + (k % 5 == 4 ? 64 : 0);
                if (write[k]) {
                    byte[] data = new byte[len[k]];
                    if (rnd.nextInt(3) == 0) {
                        Arrays.fill(data, (byte) rnd.nextInt());
                    } else {
                        rnd.nextBytes(data);
                    }
                    mem.write(buf[k], data, 0, len[k]);
                    System.arraycopy(data, 0, truth, (int) off[k], len[k]);
                    d.publish(k, VIRTIO_BLK_T_OUT, off[k] / 512, buf[k], len[k]);
                } else {
                    mem.write(buf[k], new byte[len[k]], 0, len[k]);
                    d.publish(k, VIRTIO_BLK_T_IN, off[k] / 512, buf[k], len[k]);
                }
            }
            d.kick();
            d.awaitAll(N, VIRTIO_BLK_S_OK);
            for (int k = 0; k < N; k++) {
                if (!write[k]) {
                    byte[] back = new byte[len[k]];
                    mem.read(buf[k], back, 0, len[k]);
                    assertArrayEquals(Arrays.copyOfRange(truth, (int) off[k], (int) off[k] + len[k]), back,
                            "round " + round + " read " + k + " at " + off[k] + " +" + len[k]);
                }
            }
            if (round % 3 == 2) {
                d.publish(0, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
                d.kick();
                d.awaitAll(1, VIRTIO_BLK_S_OK);
            }
            if (round == 5) {
                // what a kill leaves right after a flush (L2 entries of first writes wait for it): every write so
                // far, and no corruption (leaked reserved clusters at most: qemu-img check's exit code 3)
                Path copy = top.resolveSibling("killed.qcow2");
                Files.copy(top, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                Process p = new ProcessBuilder("qemu-img", "check", copy.toString()).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(p.waitFor(60, TimeUnit.SECONDS));
                assertTrue(p.exitValue() == 0 || p.exitValue() == 3, "qemu-img check of the copy:\n" + out);
                Path raw = top.resolveSibling("killed.raw");
                qemu("qemu-img", "convert", "-O", "raw", copy.toString(), raw.toString());
                assertArrayEquals(truth, Files.readAllBytes(raw), "the copy taken after the flush");
            }
        }
        assertEquals(0, blk.ioErrors());
        assertTrue(blk.maxInFlight() > 1, "requests were in flight together: " + blk.maxInFlight());
        d.close();
        d = null;
        dev.close();
        dev = null;
        Files.write(truthFile, truth);
        qemu("qemu-img", "check", top.toString());
        qemu("qemu-img", "compare", "-f", "qcow2", "-F", "raw", top.toString(), truthFile.toString());
    }

    @Test
    void formatRawOnAQcow2FileShowsTheContainer() throws Exception {
        Path img = tmp.resolve("c.qcow2");
        qemu("qemu-img", "create", "-q", "-f", "qcow2", img.toString(), "64M");
        try (var f = new java.io.RandomAccessFile(img.toFile(), "rw")) {
            f.setLength((f.length() + 511) / 512 * 512); // the raw view needs whole sectors
        }
        try (BlockBackend be = BlockBackend.open(img.toString(), true, CacheMode.WRITEBACK, "raw")) {
            assertEquals("raw", be.format());
            assertEquals(Files.size(img), be.size());
        }
        try (BlockBackend be = BlockBackend.open(img.toString(), true, CacheMode.WRITEBACK, null)) {
            assertEquals("qcow2", be.format());
            assertEquals(64 << 20, be.size());
        }
        Path raw = Files.write(tmp.resolve("r.img"), new byte[1 << 20]);
        var e = assertThrows(dev.jvmm.virtio.VirtioException.class,
                () -> BlockBackend.open(raw.toString(), false, CacheMode.WRITEBACK, "qcow2"));
        assertTrue(e.getMessage().contains("not a qcow2 image"), e.getMessage());
        var e2 = assertThrows(dev.jvmm.virtio.VirtioException.class,
                () -> BlockBackend.open(raw.toString(), false, CacheMode.WRITEBACK, "vmdk"));
        assertTrue(e2.getMessage().contains("unknown format"), e2.getMessage());
    }
}

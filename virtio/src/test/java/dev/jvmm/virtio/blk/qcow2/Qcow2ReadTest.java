package dev.jvmm.virtio.blk.qcow2;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.sys.NativeBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Images made and filled by qemu-img / qemu-io are read by jvmm's qcow2 layer byte for byte as qemu-img reads them. */
class Qcow2ReadTest {
    @TempDir
    Path tmp;

    /** Reads the whole virtual disk through jvmm, in odd-sized pieces, and compares with qemu-img's raw conversion. */
    static void assertSameAsQemu(Path img, Path tmp) throws Exception {
        Path raw = QemuImg.toRaw(img, tmp.resolve(img.getFileName() + ".truth.raw"));
        byte[] truth = Files.readAllBytes(raw);
        try (DiskImage d = Images.open(img.toString(), null, true)) {
            assertEquals(truth.length, d.size(), "virtual size");
            byte[] got = read(d, 0, (int) d.size());
            assertArrayEquals(truth, got, "content of " + img.getFileName());
            // and in small unaligned-to-cluster pieces (sector granular)
            Random r = new Random(7);
            for (int i = 0; i < 200; i++) {
                int off = r.nextInt(truth.length / 512) * 512;
                int len = Math.min(truth.length - off, (1 + r.nextInt(300)) * 512);
                assertArrayEquals(Arrays.copyOfRange(truth, off, off + len), read(d, off, len), "piece at " + off);
            }
        }
    }

    static byte[] read(DiskImage d, long off, int len) {
        try (NativeBuffer b = new NativeBuffer(Math.max(1, len))) {
            assertEquals(0, d.read(off, len, b.address()));
            byte[] out = new byte[len];
            b.get(0, out, 0, len);
            return out;
        }
    }

    @ParameterizedTest(name = "cluster_size={0} compat={1}")
    @CsvSource({"4096,1.1", "65536,1.1", "2097152,1.1", "4096,0.10", "65536,0.10", "2097152,0.10", "512,1.1"})
    void filledByQemuIo(int cluster, String compat) throws Exception {
        Path img = tmp.resolve("a.qcow2");
        QemuImg.create(img, "cluster_size=" + cluster + ",compat=" + compat, "9M");
        QemuImg.io(img, "write -P 0x11 0 4k", "write -P 0x22 5120 3584", "write -P 0x33 1M 1536k",
                "write -P 0x44 3000k 20k", "write -P 0x55 8M 1M", "write -P 0x66 65024 1024",
                compat.equals("1.1") ? "write -z 1200k 600k" : "write -P 0 1200k 600k", "write -P 0x77 1300k 4k");
        assertSameAsQemu(img, tmp);
    }

    @ParameterizedTest(name = "cluster_size={0} compat={1} backing={2}")
    @CsvSource({"65536,1.1,qcow2", "4096,1.1,qcow2", "65536,0.10,qcow2", "2097152,1.1,raw", "4096,0.10,raw"})
    void backingChain(int cluster, String compat, String bfmt) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("imgs"));
        Path base = dir.resolve("base." + bfmt);
        if (bfmt.equals("raw")) {
            byte[] b = new byte[6 << 20];
            new Random(1).nextBytes(b);
            Files.write(base, b);
        } else {
            QemuImg.create(base, "cluster_size=65536", "6M");
            QemuImg.io(base, "write -P 0xa1 0 6M", "write -P 0xa2 100k 7k", "write -z 2M 128k");
        }
        Path mid = dir.resolve("mid.qcow2");
        // relative backing name: resolved against the image's own directory
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=" + cluster + ",compat=" + compat,
                "-b", "base." + bfmt, "-F", bfmt, mid.toString(), "8M");
        QemuImg.io(mid, "write -P 0xb1 512 1024", "write -P 0xb2 1M 70k", "write -P 0xb3 7M 64k");
        Path top = dir.resolve("top.qcow2");
        QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=" + cluster + ",compat=" + compat,
                "-b", "mid.qcow2", "-F", "qcow2", top.toString(), "8M");
        QemuImg.io(top, "write -P 0xc1 1030k 2k", compat.equals("1.1") ? "write -z 3M 256k" : "write -P 0 3M 256k",
                "write -P 0xc2 6M 1M");
        // run from another directory: the relative names must not depend on the working directory
        assertSameAsQemu(top, tmp);
    }

    @ParameterizedTest(name = "cluster_size={0}")
    @CsvSource({"4096", "65536", "2097152"})
    void compressed(int cluster) throws Exception {
        Path raw = tmp.resolve("src.raw");
        byte[] b = new byte[5 << 20];
        Random r = new Random(3);
        for (int i = 0; i < b.length; i += 4096) {
            int kind = r.nextInt(4);
            for (int j = 0; j < 4096; j++) {
                b[i + j] = switch (kind) {
                    case 0 -> 0;
                    case 1 -> (byte) r.nextInt(); // incompressible: stored uncompressed by qemu-img
                    default -> (byte) ((i / 4096 + j / 64) & 0x7);
                };
            }
        }
        Files.write(raw, b);
        Path img = tmp.resolve("c.qcow2");
        QemuImg.ok("qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zlib,cluster_size=" + cluster,
                raw.toString(), img.toString());
        assertSameAsQemu(img, tmp);
        try (DiskImage d = Images.open(img.toString(), null, true)) {
            assertArrayEquals(b, read(d, 0, b.length));
        }
    }

    @Test
    void formatDetectedAndHonoured() throws Exception {
        Path img = tmp.resolve("d.qcow2");
        QemuImg.create(img, "", "1M");
        assertEquals("qcow2", Images.open(img.toString(), null, true).format());
        Path raw = Files.write(tmp.resolve("r.img"), new byte[4096]);
        var e = assertThrows(dev.jvmm.virtio.VirtioException.class, () -> Images.open(raw.toString(), "qcow2", true));
        assertTrue(e.getMessage().contains("not a qcow2 image"), e.getMessage());
    }
}

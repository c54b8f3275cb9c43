package dev.jvmm.virtio.blk.qcow2;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Review test for mapped first writes: writes are mapped (clusters allocated, L2 entries written) and their data
 * lands later, in any order, as the engines would do it, interleaved with other writes, reads, discards and
 * write-zeroes. Along the way copies of the file (what a kill leaves) pass qemu-img check (leaks at most) and read
 * exactly what completed; at the end the image equals the truth. With deferred L2 entries (a disk with a write cache,
 * reservations taken lazily: the file grows as the data lands) a copy is taken after the metadata write-back a
 * virtio flush does; copies taken without one must pass qemu-img check too: an L2 slice evicted from the cache
 * points at clusters whose data has not landed, past the end the file would have.
 */
class Qcow2FreshMapTest {
    @TempDir
    Path tmp;

    /** A mapped piece whose data has not landed yet. */
    record Piece(long guest, int fd, long host, byte[] data) {
    }

    @ParameterizedTest(name = "cluster_size={0} compat={1} refcount_bits={2} backing={3} deferred={4}")
    @CsvSource({"512,1.1,64,false,false", "512,0.10,16,false,false", "4096,1.1,1,false,false",
            "65536,1.1,16,false,false", "4096,1.1,64,false,false", "512,1.1,16,true,false", "4096,1.1,16,true,false",
            "65536,0.10,16,false,false", "512,1.1,64,false,true", "4096,1.1,16,true,true", "65536,1.1,16,false,true",
            "65536,0.10,16,false,true"})
    void mappedWritesLandLaterInAnyOrder(int cluster, String compat, int refbits, boolean backed, boolean deferred)
            throws Exception {
        Path img = tmp.resolve("f.qcow2");
        long size = 6 << 20;
        byte[] truth = new byte[(int) size];
        if (backed) {
            Path base = tmp.resolve("base.qcow2");
            QemuImg.create(base, "cluster_size=65536", "6M");
            QemuImg.io(base, "write -P 0xa1 0 6M");
            QemuImg.ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=" + cluster + ",compat=" + compat
                    + ",refcount_bits=" + refbits, "-b", "base.qcow2", "-F", "qcow2", img.toString(), "6M");
            Arrays.fill(truth, (byte) 0xa1);
        } else {
            QemuImg.create(img, "cluster_size=" + cluster + ",compat=" + compat + ",refcount_bits=" + refbits, "6M");
        }
        Random r = new Random(cluster * 31L + refbits + (backed ? 7 : 0) + compat.hashCode() + (deferred ? 3 : 0));
        List<Piece> pending = new ArrayList<>();
        Mapping m = new Mapping();
        int copies = 0;
        try (DiskImage d = Images.open(img.toString(), null, false); NativeBuffer buf = new NativeBuffer(size)) {
            if (deferred) {
                ((Qcow2Image) d).deferFreshL2(true);
            }
            for (int i = 0; i < 700; i++) {
                long off = (long) r.nextInt((int) (size / 512)) * 512;
                int len = (int) Math.min(size - off, (1 + r.nextInt(r.nextInt(10) < 7 ? 64 : 1024)) * 512L);
                int kind = r.nextInt(20);
                if (kind < 9) {
                    // a write: mapped now, data later (HOST) or written now (INLINE), as BlkQueue does
                    byte[] data = new byte[len];
                    r.nextBytes(data);
                    long done = 0;
                    while (done < len) {
                        d.map(off + done, len - done, true, m);
                        long n = Math.min(m.length, len - done);
                        if (m.kind == Mapping.HOST) {
                            pending.add(new Piece(off + done, m.fd, m.hostOffset,
                                    Arrays.copyOfRange(data, (int) done, (int) (done + n))));
                        } else if (m.kind == Mapping.INLINE) {
                            buf.put(0, data, (int) done, (int) n);
                            assertEquals(0, m.image.write(off + done, n, buf.address()));
                            System.arraycopy(data, (int) done, truth, (int) (off + done), (int) n);
                        } else {
                            fail("write map at " + (off + done) + ": " + m);
                        }
                        done += n;
                    }
                } else if (kind < 14 && !pending.isEmpty()) {
                    // some data lands, in any order
                    int k = 1 + r.nextInt(Math.min(8, pending.size()));
                    for (int j = 0; j < k; j++) {
                        land(d, pending.remove(r.nextInt(pending.size())), truth, buf, m);
                    }
                } else if (kind < 16) {
                    assertEquals(0, d.discard(off, len));
                    readInto(d, off, len, truth, buf);
                } else if (kind < 18) {
                    assertEquals(0, d.writeZeroes(off, len, r.nextBoolean()));
                    // a whole cluster write-zeroed drops what was mapped there; partial ones zero in place
                    readInto(d, off, len, truth, buf);
                } else if (kind < 19) {
                    assertEquals(0, d.read(0, size, buf.address()));
                    byte[] got = new byte[(int) size];
                    buf.get(0, got, 0, (int) size);
                    assertArrayEquals(truth, got, "read of the whole disk after op " + i);
                } else if (copies < 6) {
                    // what a kill leaves now: qemu-img check finds leaks at most; the content is what completed
                    // (deferred: what completed before the last flush, so the copy is taken after one)
                    copies++;
                    Path c = tmp.resolve("kill" + copies + ".qcow2");
                    if (deferred) {
                        Path early = tmp.resolve("early" + copies + ".qcow2");
                        Files.copy(img, early);
                        QemuImg.Out o = QemuImg.run("qemu-img", "check", early.toString());
                        assertTrue(o.rc() == 0 || o.rc() == 3, "qemu-img check of a copy before a flush after op "
                                + i + ": rc " + o.rc() + "\n" + o.stdout() + o.stderr());
                        assertEquals(0, d.writeBack());
                    }
                    Files.copy(img, c);
                    QemuImg.Out o = QemuImg.run("qemu-img", "check", c.toString());
                    assertTrue(o.rc() == 0 || o.rc() == 3, "qemu-img check of a copy after op " + i + ": rc "
                            + o.rc() + "\n" + o.stdout() + o.stderr());
                    Path raw = tmp.resolve("kill" + copies + ".raw");
                    QemuImg.ok("qemu-img", "convert", "-O", "raw", c.toString(), raw.toString());
                    byte[] got = Files.readAllBytes(raw);
                    assertEquals(truth.length, got.length);
                    for (int b = 0; b < got.length; b++) {
                        if (got[b] != truth[b]) {
                            fail("the copy after op " + i + " differs at " + b + ": " + got[b] + " vs " + truth[b]);
                        }
                    }
                }
            }
            while (!pending.isEmpty()) {
                land(d, pending.remove(r.nextInt(pending.size())), truth, buf, m);
            }
            assertEquals(0, d.read(0, size, buf.address()));
            byte[] got = new byte[(int) size];
            buf.get(0, got, 0, (int) size);
            assertArrayEquals(truth, got, "read of the whole disk at the end");
        }
        Path truthFile = tmp.resolve("truth.raw");
        Files.write(truthFile, truth);
        Qcow2WriteTest.assertCheckClean(img);
        Qcow2WriteTest.assertSame(img, truthFile);
    }

    /** The data lands at its host range; the truth takes it where the guest bytes still map there. */
    private static void land(DiskImage d, Piece p, byte[] truth, NativeBuffer buf, Mapping m) {
        int n = p.data.length;
        buf.put(0, p.data, 0, n);
        assertEquals((long) n, Native.LIBC.pwrite(p.fd, buf.address(), n, p.host), "pwrite");
        long done = 0;
        while (done < n) {
            d.map(p.guest + done, n - done, false, m);
            long k = Math.min(m.length, n - done);
            if (m.kind == Mapping.HOST && m.hostOffset == p.host + done) {
                System.arraycopy(p.data, (int) done, truth, (int) (p.guest + done), (int) k);
            }
            done += k;
        }
    }

    private static void readInto(DiskImage d, long off, int len, byte[] truth, NativeBuffer buf) {
        assertEquals(0, d.read(off, len, buf.address()));
        buf.get(0, truth, (int) off, len);
    }
}

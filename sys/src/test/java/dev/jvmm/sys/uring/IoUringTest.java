package dev.jvmm.sys.uring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.testing.OpenFds;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * io_uring against a real file: vectored writes and reads at offsets, fdatasync, completions signalled on a
 * registered eventfd, errors as {@code -errno} completions, no descriptor left behind. Skipped (saying why) only on a
 * host whose kernel refuses io_uring to this process.
 */
class IoUringTest {
    @TempDir Path tmp;

    @BeforeAll
    static void available() {
        String why = IoUring.unavailableReason();
        if (why != null) {
            System.out.println("IoUringTest skipped: io_uring is not usable here: " + why);
        }
        Assumptions.assumeTrue(why == null, () -> "io_uring is not usable on this host: " + why);
    }

    @Test
    void writevReadvAndFsyncAtDepthCompleteOnTheRegisteredEventFd() throws Exception {
        Path f = tmp.resolve("file");
        Files.write(f, new byte[1 << 20]);
        Map<Integer, String> before = OpenFds.now();
        byte[] data = new byte[64 * 4096];
        new Random(1).nextBytes(data);
        try (Fd file = Fd.open(f.toString(), Native.O_RDWR); EventFd efd = EventFd.create("uring-test");
                IoUring ring = IoUring.setup(64, 0, "uring-test"); NativeBuffer buf = new NativeBuffer(data.length);
                NativeBuffer iov = new NativeBuffer(16L * 128)) {
            assertTrue(ring.sqEntries() >= 64 && ring.cqEntries() >= 64, ring.toString());
            ring.registerEventFd(efd);
            buf.put(0, data, 0, data.length);
            // 64 writes of one 4 KiB block each, two iovecs of 2 KiB, at scattered file offsets
            for (int i = 0; i < 64; i++) {
                long v = iov.address() + 32L * i;
                Native.putLong(v, buf.address() + 4096L * i);
                Native.putLong(v + 8, 2048);
                Native.putLong(v + 16, buf.address() + 4096L * i + 2048);
                Native.putLong(v + 24, 2048);
                assertTrue(ring.prepareWritev(file.fd(), v, 2, 4096L * ((i * 37) % 256), 1000 + i));
            }
            assertEquals(64, ring.prepared());
            assertFalse(ring.prepare(0, 0, 0, 0, 0, 0, 0), "the SQ ring of 64 is full");
            assertEquals(64, ring.submit());
            List<long[]> done = new ArrayList<>();
            while (done.size() < 64) {
                ring.awaitCompletion();
                ring.reap((u, res) -> done.add(new long[] {u, res}));
            }
            assertTrue(efd.drain() > 0, "the registered eventfd was signalled");
            for (long[] d : done) {
                assertEquals(4096, d[1], "user_data " + d[0]);
            }
            assertEquals(64, done.stream().mapToLong(d -> d[0]).distinct().count());
            assertTrue(ring.prepareFsync(file.fd(), true, 7));
            ring.submit();
            long[] sync = new long[2];
            ring.awaitCompletion();
            assertEquals(1, ring.reap((u, res) -> {
                sync[0] = u;
                sync[1] = res;
            }));
            assertArrayEquals(new long[] {7, 0}, sync);
            byte[] onDisk = Files.readAllBytes(f);
            for (int i = 0; i < 64; i++) {
                int off = 4096 * ((i * 37) % 256);
                for (int k = 0; k < 4096; k += 511) {
                    assertEquals(data[4096 * i + k], onDisk[off + k], "block " + i + " byte " + k);
                }
            }
            // read them back through one readv per block into a cleared buffer
            buf.clear();
            for (int i = 0; i < 64; i++) {
                long v = iov.address() + 32L * i;
                Native.putLong(v, buf.address() + 4096L * i);
                Native.putLong(v + 8, 4096);
                ring.prepareReadv(file.fd(), v, 1, 4096L * ((i * 37) % 256), i);
            }
            ring.submit();
            int[] n = {0};
            while (n[0] < 64) {
                ring.awaitCompletion();
                ring.reap((u, res) -> {
                    assertEquals(4096, res);
                    n[0]++;
                });
            }
            byte[] back = new byte[data.length];
            buf.get(0, back, 0, back.length);
            assertArrayEquals(data, back);
            // a read at end of file reads 0 bytes; a bad fd fails with -EBADF as its completion
            Native.putLong(iov.address(), buf.address());
            Native.putLong(iov.address() + 8, 4096);
            ring.prepareReadv(file.fd(), iov.address(), 1, 1 << 20, 1);
            ring.prepareReadv(9999, iov.address(), 1, 0, 2);
            ring.submit();
            Map<Long, Integer> res = new HashMap<>();
            while (res.size() < 2) {
                ring.awaitCompletion();
                ring.reap((u, r) -> res.put(u, r));
            }
            assertEquals(Map.of(1L, 0, 2L, -Errno.EBADF), res);
            ring.unregisterEventFd();
        }
        assertEquals(List.of(), OpenFds.leaked(before), "every descriptor (ring, eventfd, file) is closed");
    }

    @Test
    void discardUnsubmittedGivesBackWhatTheKernelDidNotTake() {
        try (IoUring ring = IoUring.setup(8, 0, "uring-test")) {
            ring.prepare(0, -1, 0, 0, 0, 0, 11);
            ring.prepare(0, -1, 0, 0, 0, 0, 12);
            List<Long> back = new ArrayList<>();
            assertEquals(2, ring.discardUnsubmitted(Errno.EIO, (u, res) -> {
                assertEquals(-Errno.EIO, res);
                back.add(u);
            }));
            assertEquals(List.of(11L, 12L), back);
            assertEquals(0, ring.prepared());
            assertEquals(0, ring.submit(), "nothing left to submit");
            assertEquals(8, ring.sqSpace());
            // a NOP still goes through after the rollback
            ring.prepare(0, -1, 0, 0, 0, 0, 13);
            assertEquals(1, ring.submit());
            ring.awaitCompletion();
            assertEquals(1, ring.reap((u, res) -> assertEquals(13L, u)));
        }
    }

    @Test
    void badArgumentsAreRefusedClearlyAndCloseIsIdempotent() {
        assertThrows(IllegalArgumentException.class, () -> IoUring.setup(0, 0, "x"));
        var e = assertThrows(dev.jvmm.sys.ErrnoException.class, () -> IoUring.setup(8, 3, "uring-test"));
        assertEquals("io_uring_setup", e.op());
        assertTrue(e.getMessage().contains("EINVAL") && e.getMessage().contains("uring-test entries=8"), e.getMessage());
        IoUring r = IoUring.setup(4, 0, "uring-test");
        r.close();
        r.close();
    }
}

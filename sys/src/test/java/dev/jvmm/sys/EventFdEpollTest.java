package dev.jvmm.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class EventFdEpollTest {
    @Test
    void eventfdCountsAndEpollReportsTheToken() {
        try (EventFd a = EventFd.create("a"); EventFd b = EventFd.create("b"); Epoll ep = Epoll.create("test", 4)) {
            ep.add(a, Epoll.EPOLLIN, 11);
            ep.add(b, Epoll.EPOLLIN, 22);
            assertEquals(0, ep.await(0), "nothing signalled yet");
            b.signal();
            b.signal();
            assertEquals(1, ep.await(1000));
            assertEquals(22, ep.token(0));
            assertTrue((ep.events(0) & Epoll.EPOLLIN) != 0);
            assertEquals(2, b.drain());
            assertEquals(0, b.drain(), "drained counter reads as 0 in non-blocking mode");
        }
    }

    @Test
    void closeIsIdempotentAndAClosedFdIsNotUsable() {
        EventFd e = EventFd.create("x");
        e.close();
        e.close();
        assertFalse(e.isOpen());
        assertThrows(IllegalStateException.class, e::fd);
    }

    @Test
    void failedOpenNamesThePathAndErrno() {
        ErrnoException ex = assertThrows(ErrnoException.class, () -> Fd.open("/nonexistent/jvmm", Native.O_RDONLY));
        assertEquals("ENOENT", ex.errnoName());
        assertEquals("open failed: ENOENT (No such file or directory) [/nonexistent/jvmm]", ex.getMessage());
    }

    @Test
    void mmapAndNativeBufferAreBoundsCheckedOwners() {
        try (Mmap m = Mmap.anonymous(8192, "t"); NativeBuffer b = new NativeBuffer(16)) {
            Native.putLong(m.address() + 4096, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, Native.getLong(m.address() + 4096));
            b.putInt(12, 7);
            assertEquals(7, b.getInt(12));
            assertThrows(IndexOutOfBoundsException.class, () -> b.putInt(13, 1));
        }
    }

    @Test
    void alignedAnonymousMemoryStartsOnTheBoundaryAndCanAskForHugePages() throws IOException {
        long twoMiB = 2L << 20;
        try (Mmap m = Mmap.anonymousAligned(6 * twoMiB, twoMiB, "aligned")) {
            assertEquals(0, m.address() % twoMiB, "address 0x" + Long.toHexString(m.address()));
            assertEquals(6 * twoMiB, m.length());
            Native.putLong(m.address(), 1);
            Native.putLong(m.address() + m.length() - 8, 2); // the whole length is mapped
            assertEquals(3, Native.getLong(m.address()) + Native.getLong(m.address() + m.length() - 8));
            boolean thp = Files.exists(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
            assertEquals(thp, m.adviseHugePages(), "madvise(MADV_HUGEPAGE) with THP support " + thp);
            if (thp) { // the kernel's view of the mapping: exactly our range, flagged "hg"
                List<String> smaps = Files.readAllLines(Path.of("/proc/self/smaps"));
                String head = Long.toHexString(m.address()) + "-" + Long.toHexString(m.address() + m.length()) + " ";
                int i = 0;
                while (i < smaps.size() && !smaps.get(i).startsWith(head)) {
                    i++;
                }
                assertTrue(i < smaps.size(), "no mapping " + head + "in /proc/self/smaps");
                while (!smaps.get(i).startsWith("VmFlags:")) {
                    i++;
                }
                assertTrue(smaps.get(i).contains(" hg"), smaps.get(i));
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Mmap.anonymousAligned(4096, 3000, "bad"));
        assertThrows(IllegalArgumentException.class, () -> Mmap.anonymousAligned(0, twoMiB, "empty"));
    }
}

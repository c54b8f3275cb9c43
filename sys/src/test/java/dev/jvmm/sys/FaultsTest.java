package dev.jvmm.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The fault-injection hook: the Nth counted call of the arming thread fails as the kernel would. */
class FaultsTest {
    @Test
    void theNthCallFailsWithTheErrnoAndOnlyTheArmingThreadCounts() throws Exception {
        assertTrue(Faults.ON, "the surefire argLine sets -Djvmm.faults=true");
        int[] fds = new int[2];
        Faults.arm(3, Errno.EBADF);
        try {
            // another thread's calls do not count
            AtomicInteger other = new AtomicInteger();
            Thread t = new Thread(() -> {
                int fd = Native.LIBC.eventfd(0, 0);
                other.set(fd);
                Native.LIBC.close(fd);
            });
            t.start();
            t.join();
            assertTrue(other.get() >= 0);
            fds[0] = Native.LIBC.eventfd(0, 0);
            fds[1] = Native.LIBC.eventfd(0, 0);
            assertTrue(fds[0] >= 0 && fds[1] >= 0);
            assertFalse(Faults.reached());
            assertEquals(-1L, Native.LIBC.mmap(0, 4096, Native.PROT_READ, Native.MAP_PRIVATE | Native.MAP_ANONYMOUS,
                    -1, 0), "MAP_FAILED");
            assertEquals(Errno.EBADF, Native.errno());
            assertTrue(Faults.reached());
            assertEquals("mmap(length 4096, anonymous) -> EBADF", Faults.failedCall());
            int past = Native.LIBC.eventfd(0, 0); // past N: calls go through again
            assertTrue(past >= 0);
            Native.LIBC.close(past);
        } finally {
            Faults.disarm();
            Native.LIBC.close(fds[0]);
            Native.LIBC.close(fds[1]);
        }
        assertEquals(3 + 1, Faults.calls());
    }

    @Test
    void theDefaultErrnoSuitsTheCallAndDisarmStopsIt() {
        Faults.arm(1);
        try {
            assertEquals(-1, Native.LIBC.open("/dev/null", Native.O_RDONLY, 0));
            assertEquals(Errno.EIO, Native.errno());
            assertEquals("open(/dev/null) -> EIO", Faults.failedCall());
        } finally {
            Faults.disarm();
        }
        Faults.arm(1);
        Faults.disarm();
        assertNull(Faults.failedCall());
        int fd = Native.LIBC.open("/dev/null", Native.O_RDONLY, 0);
        assertTrue(fd >= 0);
        Native.LIBC.close(fd);
    }
}

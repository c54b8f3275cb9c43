package dev.jvmm.sys;

import static org.junit.jupiter.api.Assertions.*;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The timerfd a rate-limited device waits on, and the unix sockets virtio-console's ports listen on. */
class TimerFdUnixSocketTest {
    @TempDir Path tmp;

    @Test
    void anArmedTimerMakesItsFdReadableOnceAndADisarmedOneNever() {
        try (TimerFd t = TimerFd.create("t"); Epoll ep = Epoll.create("t", 2)) {
            ep.add(t, Epoll.EPOLLIN, 7);
            assertEquals(0, t.drain(), "not armed: nothing to read");
            t.arm(1_000_000);
            assertEquals(1, ep.await(30_000));
            assertEquals(7, ep.token(0));
            assertEquals(1, t.drain(), "one expiry");
            assertEquals(0, t.drain());
            t.arm(3_600_000_000_000L);
            t.disarm();
            assertEquals(0, ep.await(0), "disarmed");
            t.arm(0); // zero would disarm: it expires at once instead
            assertEquals(1, ep.await(30_000));
        }
    }

    @Test
    void aListeningSocketAcceptsWithoutBlockingAndSendsWithoutSigpipe() throws Exception {
        Path p = tmp.resolve("s.sock");
        try (Fd l = UnixSocket.listen(p, 2); NativeBuffer msg = new NativeBuffer(dev.jvmm.sys.uapi.MsgHdr.SIZEOF);
                NativeBuffer data = new NativeBuffer(16); NativeBuffer iov = new NativeBuffer(16)) {
            assertNull(UnixSocket.accept(l), "nobody waits");
            SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
            c.connect(UnixDomainSocketAddress.of(p));
            Fd s;
            try (Epoll ep = Epoll.create("l", 1)) {
                ep.add(l, Epoll.EPOLLIN, 1);
                assertEquals(1, ep.await(30_000));
                s = UnixSocket.accept(l);
            }
            assertNotNull(s);
            data.put(0, "hello".getBytes(), 0, 5);
            iov.putLong(0, data.address());
            iov.putLong(8, 5);
            assertEquals(5, UnixSocket.send(s, msg, iov.address(), 1));
            ByteBuffer b = ByteBuffer.allocate(5);
            while (b.hasRemaining()) {
                c.read(b);
            }
            assertEquals("hello", new String(b.array()));
            c.close();
            long r = 0;
            for (int i = 0; i < 100 && r >= 0; i++) {
                r = UnixSocket.send(s, msg, iov.address(), 1); // the JVM lives on: no SIGPIPE
            }
            assertEquals(-1, r);
            assertEquals(Errno.EPIPE, Native.errno());
            s.close();
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UnixSocket.listen(tmp.resolve("x".repeat(120)), 1));
        assertTrue(e.getMessage().contains("107"), e.getMessage());
    }
}

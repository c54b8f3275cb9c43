package dev.jvmm.sys;

import dev.jvmm.sys.uapi.CConstants;
import dev.jvmm.sys.uapi.MsgHdr;
import dev.jvmm.sys.uapi.SockaddrUn;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Stream unix sockets on raw fds, for a device thread that serves them in its own epoll (virtio-console's ports):
 * a listening socket, non-blocking accept, and sends that never raise SIGPIPE. Every fd is close-on-exec and
 * non-blocking.
 */
@CConstants(headers = {"sys/socket.h", "sys/un.h"})
public final class UnixSocket {
    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_NONBLOCK = 04000;
    public static final int SOCK_CLOEXEC = 02000000;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_NOSIGNAL = 0x4000;
    /** The longest path {@code sun_path} holds with its NUL. */
    @dev.jvmm.sys.uapi.NotC public static final int MAX_PATH_BYTES = SockaddrUn.SIZEOF - SockaddrUn.SUN_PATH - 1;

    private UnixSocket() {
    }

    /**
     * A socket listening at {@code path} (which must not exist: the caller removes a stale one), with room for
     * {@code backlog} connections waiting to be accepted.
     */
    public static Fd listen(Path path, int backlog) {
        byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
        if (p.length == 0 || p.length > MAX_PATH_BYTES) {
            throw new IllegalArgumentException(path + ": a unix socket path has 1 to " + MAX_PATH_BYTES + " bytes, this one "
                    + p.length);
        }
        int s = Native.LIBC.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0) {
            throw new ErrnoException("socket", Native.errno(), "AF_UNIX for " + path);
        }
        Fd fd = new Fd(s, "unix socket " + path);
        try (NativeBuffer addr = new NativeBuffer(SockaddrUn.SIZEOF)) {
            addr.putShort(SockaddrUn.SUN_FAMILY, AF_UNIX);
            addr.put(SockaddrUn.SUN_PATH, p, 0, p.length);
            addr.putByte(SockaddrUn.SUN_PATH + p.length, 0);
            if (Native.LIBC.bind(s, addr.address(), SockaddrUn.SUN_PATH + p.length + 1) < 0) {
                throw new ErrnoException("bind", Native.errno(), path.toString());
            }
            if (Native.LIBC.listen(s, backlog) < 0) {
                throw new ErrnoException("listen", Native.errno(), path.toString());
            }
            return fd;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** The next connection waiting on {@code listener} (non-blocking, close-on-exec), or null when none is. */
    public static Fd accept(Fd listener) {
        for (;;) {
            int c = Native.LIBC.accept4(listener.fd(), 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c >= 0) {
                return new Fd(c, "client of " + listener.name());
            }
            int e = Native.errno();
            if (e == Errno.EINTR || e == Errno.ECONNABORTED) {
                continue;
            }
            if (e == Errno.EAGAIN) {
                return null;
            }
            throw new ErrnoException("accept4", e, listener.name());
        }
    }

    /**
     * sendmsg(2) of the {@code count} iovecs at {@code iov} on a connected socket, without blocking and without
     * SIGPIPE when the peer has gone. {@code msghdr} is a caller's buffer of {@link MsgHdr#SIZEOF} bytes (reused:
     * nothing is allocated). Returns the bytes sent, or -1 with errno set (EAGAIN: the socket's buffer is full;
     * EPIPE, ECONNRESET: the peer has gone); EINTR is retried.
     */
    public static long send(Fd socket, NativeBuffer msghdr, long iov, int count) {
        msghdr.putLong(MsgHdr.NAME, 0);
        msghdr.putInt(MsgHdr.NAMELEN, 0);
        msghdr.putLong(MsgHdr.IOV, iov);
        msghdr.putLong(MsgHdr.IOVLEN, count);
        msghdr.putLong(MsgHdr.CONTROL, 0);
        msghdr.putLong(MsgHdr.CONTROLLEN, 0);
        msghdr.putInt(MsgHdr.FLAGS, 0);
        for (;;) {
            long r = Native.LIBC.sendmsg(socket.fd(), msghdr.address(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (r >= 0 || Native.errno() != Errno.EINTR) {
                return r;
            }
        }
    }
}

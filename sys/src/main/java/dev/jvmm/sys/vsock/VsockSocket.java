package dev.jvmm.sys.vsock;

import static dev.jvmm.sys.vsock.uapi.VsockConstants.*;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.LibC;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.vsock.uapi.SockaddrVm;

/**
 * An AF_VSOCK stream socket ({@code socket(AF_VSOCK, SOCK_STREAM|SOCK_CLOEXEC, 0)} with {@code struct sockaddr_vm}),
 * which Java's own sockets lack: how the host reaches a guest's virtio-vsock device. The host connects to the guest's
 * CID ({@link #connect}); a guest connects to {@link dev.jvmm.sys.vsock.uapi.VsockConstants#VMADDR_CID_HOST 2}, and
 * the host {@link #listen}s for it on a port of {@code VMADDR_CID_ANY}. Blocking I/O through {@link #read} and
 * {@link #write}; one instance per thread for each direction.
 *
 * <p>Errors are {@link ErrnoException}s naming the call and the address, with a hint for the usual causes:
 * {@code socket} EAFNOSUPPORT (the kernel has no vsock: {@code modprobe vhost_vsock} on a host), {@code connect}
 * ENODEV (no VM has that CID), ECONNREFUSED/ECONNRESET (nobody listens on that port), ETIMEDOUT (the guest did not
 * answer). A failed factory leaves no fd behind.
 */
public final class VsockSocket implements AutoCloseable {
    private static final LibC C = Native.LIBC;
    /** Bytes moved through native memory per read or write call. */
    private static final int CHUNK = 64 * 1024;
    private final Fd fd;
    private final long peerCid;
    private final long peerPort;
    /** Guarded by itself; allocated at the first read or write. */
    private NativeBuffer io;

    private VsockSocket(Fd fd, long peerCid, long peerPort) {
        this.fd = fd;
        this.peerCid = peerCid;
        this.peerPort = peerPort;
    }

    /** Connects to {@code port} of the VM with CID {@code cid} (or of the host, 2, from inside a guest). */
    public static VsockSocket connect(long cid, long port) {
        checkAddress(cid, port);
        Fd s = open("cid=" + cid + " port=" + port);
        try (NativeBuffer a = new NativeBuffer(SockaddrVm.SIZEOF)) {
            putSockaddrVm(a, cid, port);
            for (;;) {
                if (C.connect(s.fd(), a.address(), SockaddrVm.SIZEOF) == 0) {
                    return new VsockSocket(s, cid, port);
                }
                int e = Native.errno();
                if (e != Errno.EINTR) {
                    throw new ErrnoException("connect", e, "vsock cid=" + cid + " port=" + port + hint(e, cid));
                }
            }
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
    }

    /** Binds {@code port} of {@code cid} (normally {@link dev.jvmm.sys.vsock.uapi.VsockConstants#VMADDR_CID_ANY}) and listens. */
    public static VsockSocket listen(long cid, long port, int backlog) {
        checkAddress(cid, port);
        String where = "vsock cid=" + (cid == VMADDR_CID_ANY ? "any" : Long.toString(cid)) + " port=" + port;
        Fd s = open(where);
        try (NativeBuffer a = new NativeBuffer(SockaddrVm.SIZEOF)) {
            putSockaddrVm(a, cid, port);
            if (C.bind(s.fd(), a.address(), SockaddrVm.SIZEOF) != 0) {
                int e = Native.errno();
                throw new ErrnoException("bind", e, where + (e == Errno.EADDRINUSE ? " (the port is taken)" : ""));
            }
            if (C.listen(s.fd(), backlog) != 0) {
                throw new ErrnoException("listen", Native.errno(), where);
            }
            return new VsockSocket(s, -1, -1);
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
    }

    /** Waits for a connection on a {@link #listen listening} socket; the result knows the peer's CID and port. */
    public VsockSocket accept() {
        try (NativeBuffer a = new NativeBuffer(SockaddrVm.SIZEOF + 4)) {
            long lenAt = a.address() + SockaddrVm.SIZEOF;
            for (;;) {
                a.putInt(SockaddrVm.SIZEOF, SockaddrVm.SIZEOF);
                int c = C.accept4(fd.fd(), a.address(), lenAt, SOCK_CLOEXEC);
                if (c >= 0) {
                    long cid = Integer.toUnsignedLong(a.getInt(SockaddrVm.SVM_CID));
                    long port = Integer.toUnsignedLong(a.getInt(SockaddrVm.SVM_PORT));
                    return new VsockSocket(new Fd(c, "vsock(cid=" + cid + " port=" + port + ")"), cid, port);
                }
                int e = Native.errno();
                if (e != Errno.EINTR) {
                    throw new ErrnoException("accept", e, fd.name());
                }
            }
        }
    }

    /** The peer's CID of a connected socket (-1 for a listening one). */
    public long peerCid() {
        return peerCid;
    }

    /** The peer's port of a connected socket (-1 for a listening one). */
    public long peerPort() {
        return peerPort;
    }

    public Fd fd() {
        return fd;
    }

    /** Reads up to {@code len} bytes; returns how many, or -1 at the end of the stream (the peer shut down or closed). */
    public int read(byte[] b, int off, int len) {
        if (len == 0) {
            return 0;
        }
        synchronized (this) {
            NativeBuffer buf = buffer();
            long n = fd.read(buf.address(), Math.min(len, CHUNK));
            if (n <= 0) {
                return -1;
            }
            buf.get(0, b, off, (int) n);
            return (int) n;
        }
    }

    /** Writes all {@code len} bytes. */
    public void write(byte[] b, int off, int len) {
        synchronized (this) {
            NativeBuffer buf = buffer();
            while (len > 0) {
                int n = Math.min(len, CHUNK);
                buf.put(0, b, off, n);
                int done = 0;
                while (done < n) {
                    long w = fd.write(buf.address() + done, n - done);
                    if (w < 0) {
                        throw new ErrnoException("write", Errno.EAGAIN, fd.name());
                    }
                    done += (int) w;
                }
                off += n;
                len -= n;
            }
        }
    }

    /** Sends end-of-stream ({@code shutdown(SHUT_WR)}): the peer reads -1 after the bytes sent. */
    public void shutdownOutput() {
        if (C.shutdown(fd.fd(), SHUT_WR) != 0) {
            throw new ErrnoException("shutdown", Native.errno(), fd.name());
        }
    }

    private NativeBuffer buffer() {
        if (io == null) {
            io = new NativeBuffer(CHUNK);
        }
        return io;
    }

    /** Closes the socket. Idempotent. */
    @Override
    public void close() {
        fd.close();
        synchronized (this) {
            if (io != null) {
                io.close();
                io = null;
            }
        }
    }

    private static Fd open(String what) {
        int s = C.socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) {
            int e = Native.errno();
            throw new ErrnoException("socket", e, "AF_VSOCK " + what + (e == Errno.EAFNOSUPPORT
                    ? ": this kernel has no vsock (on a host: modprobe vhost_vsock; in a guest: modprobe vmw_vsock_virtio_transport)"
                    : ""));
        }
        return new Fd(s, "vsock(" + what + ")");
    }

    private static String hint(int errno, long cid) {
        return switch (errno) {
            case Errno.ENODEV -> ": no VM has CID " + cid + " (is its vsock device up and its guest driver loaded?)";
            case Errno.ECONNREFUSED, Errno.ECONNRESET -> ": nothing listens on that port";
            case Errno.ETIMEDOUT -> ": the peer did not answer";
            default -> "";
        };
    }

    /** CIDs and ports are 32-bit unsigned. */
    static void checkAddress(long cid, long port) {
        if (cid < 0 || cid > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("vsock CID " + cid + " is not a 32-bit unsigned number");
        }
        if (port < 0 || port > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("vsock port " + port + " is not a 32-bit unsigned number");
        }
    }

    /** Writes every byte of a {@code struct sockaddr_vm} for {@code cid}/{@code port} at the start of {@code b}. */
    static void putSockaddrVm(NativeBuffer b, long cid, long port) {
        for (int i = 0; i < SockaddrVm.SIZEOF; i++) {
            b.putByte(i, 0); // svm_reserved1, svm_flags and svm_zero must be 0 (the kernel refuses a non-zero svm_zero)
        }
        b.putShort(SockaddrVm.SVM_FAMILY, AF_VSOCK);
        b.putInt(SockaddrVm.SVM_PORT, (int) port);
        b.putInt(SockaddrVm.SVM_CID, (int) cid);
    }
}

package dev.jvmm.sys.netlink;

import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.*;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.LibC;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.netlink.uapi.SockaddrNl;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A netlink socket ({@code socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, protocol)} bound with {@code sockaddr_nl})
 * that sends one request at a time and collects its replies. Each request gets the next sequence number; replies
 * with another sequence number (stale answers to an earlier, interrupted request) are dropped.
 *
 * <p>Reads are sized with {@code recv(MSG_PEEK|MSG_TRUNC)} first, so a big {@code IFLA_VFINFO_LIST} never gets
 * truncated. {@code NETLINK_EXT_ACK} is requested so errors carry the kernel's text. A receive timeout
 * ({@code SO_RCVTIMEO}) bounds every wait.
 */
public final class NetlinkSocket implements AutoCloseable {
    private static final LibC C = Native.LIBC;
    private static final int SO_RCVTIMEO = 20;
    private final Fd fd;
    private final int protocol;
    private NativeBuffer buf = new NativeBuffer(32 * 1024);
    private final NativeBuffer addr = new NativeBuffer(SockaddrNl.SIZEOF);
    private int seq = (int) (System.nanoTime() & 0x3fffffff);
    private boolean extAck;

    private NetlinkSocket(Fd fd, int protocol) {
        this.fd = fd;
        this.protocol = protocol;
    }

    /** Opens and binds a socket for {@code protocol} (for example {@code NETLINK_ROUTE}) in the caller's netns. */
    public static NetlinkSocket open(int protocol) {
        int s = C.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
        if (s < 0) {
            throw new ErrnoException("socket", Native.errno(), "AF_NETLINK protocol " + protocol);
        }
        NetlinkSocket ns = new NetlinkSocket(new Fd(s, "netlink(" + protocol + ")"), protocol);
        try {
            ns.setup();
            return ns;
        } catch (RuntimeException e) {
            ns.close();
            throw e;
        }
    }

    /**
     * Opens a socket inside the network namespace behind {@code netnsPath} (for example {@code /run/netns/x}).
     * A socket stays in the namespace it was created in, so it is created on a short-lived thread that
     * {@code setns(2)}s first; the caller's threads never change namespace.
     */
    public static NetlinkSocket openInNetns(String netnsPath, int protocol) throws InterruptedException {
        AtomicReference<Object> out = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try (Fd ns = Fd.open(netnsPath, Native.O_RDONLY)) {
                if (C.setns(ns.fd(), CLONE_NEWNET) != 0) {
                    throw new ErrnoException("setns", Native.errno(), netnsPath);
                }
                out.set(open(protocol));
            } catch (RuntimeException e) {
                out.set(e);
            }
        }, "netns-socket");
        t.start();
        t.join();
        if (out.get() instanceof RuntimeException e) {
            throw e;
        }
        return (NetlinkSocket) out.get();
    }

    private void setup() {
        try (NativeBuffer one = new NativeBuffer(16)) {
            one.putInt(0, 1);
            // best effort: old kernels answer ENOPROTOOPT and simply send no ext-ack text
            extAck = C.setsockopt(fd.fd(), SOL_NETLINK, NETLINK_EXT_ACK, one.address(), 4) == 0;
            one.putInt(0, 1 << 20);
            C.setsockopt(fd.fd(), SOL_SOCKET, SO_RCVBUF, one.address(), 4); // best effort (capped by rmem_max)
            one.putLong(0, 30); // struct timeval {tv_sec = 30, tv_usec = 0}
            one.putLong(8, 0);
            if (C.setsockopt(fd.fd(), SOL_SOCKET, SO_RCVTIMEO, one.address(), 16) != 0) {
                throw new ErrnoException("setsockopt(SO_RCVTIMEO)", Native.errno(), fd.name());
            }
        }
        addr.clear();
        addr.putShort(SockaddrNl.NL_FAMILY, AF_NETLINK);
        if (C.bind(fd.fd(), addr.address(), SockaddrNl.SIZEOF) != 0) {
            throw new ErrnoException("bind", Native.errno(), fd.name());
        }
    }

    /** Whether the kernel accepted {@code NETLINK_EXT_ACK}. */
    public boolean extAck() {
        return extAck;
    }

    public int protocol() {
        return protocol;
    }

    /**
     * Sends {@code req} and returns the non-control replies. Stops at the request's ACK ({@code NLMSG_ERROR}
     * with error 0) or at {@code NLMSG_DONE} for a dump. A negative error becomes a {@link NetlinkErrorException}
     * named {@code op} with {@code context}.
     */
    public synchronized List<NlMessage> request(NlMessageBuilder req, String op, String context) {
        int mySeq = ++seq;
        byte[] bytes = req.build(mySeq);
        send(bytes, op, context);
        List<NlMessage> out = new ArrayList<>();
        boolean dump = (req.flags() & NLM_F_DUMP) == NLM_F_DUMP;
        for (;;) {
            for (NlMessage m : NlMessage.split(receive(op, context))) {
                if (m.seq() != mySeq) {
                    continue; // a late reply to an earlier request
                }
                switch (m.type()) {
                    case NLMSG_ERROR -> {
                        NlMessage.Error e = m.decodeError();
                        if (e.error() != 0) {
                            throw new NetlinkErrorException(op, -e.error(), context, e.extAckMessage(), e.extAckOffset());
                        }
                        return out;
                    }
                    case NLMSG_DONE -> {
                        int err = m.body().remaining() >= 4 ? m.body().getInt(0) : 0;
                        if (err < 0) {
                            throw new NetlinkErrorException(op, -err, context, null, -1);
                        }
                        if (dump) {
                            return out;
                        }
                    }
                    case NLMSG_OVERRUN -> throw new NetlinkProtocolException(op + ": NLMSG_OVERRUN, replies were lost");
                    case NLMSG_NOOP -> { }
                    default -> out.add(m);
                }
            }
        }
    }

    private void send(byte[] bytes, String op, String context) {
        if (bytes.length > buf.size()) {
            grow(bytes.length);
        }
        buf.put(0, bytes, 0, bytes.length);
        for (;;) {
            long r = C.sendto(fd.fd(), buf.address(), bytes.length, 0, addr.address(), SockaddrNl.SIZEOF);
            if (r == bytes.length) {
                return;
            }
            int e = r < 0 ? Native.errno() : Errno.EIO;
            if (e != Errno.EINTR) {
                throw new ErrnoException("sendto", e, op + (context == null ? "" : " " + context));
            }
        }
    }

    private ByteBuffer receive(String op, String context) {
        for (;;) {
            long n = C.recv(fd.fd(), buf.address(), buf.size(), MSG_PEEK | MSG_TRUNC);
            if (n < 0) {
                int e = Native.errno();
                if (e == Errno.EINTR) {
                    continue;
                }
                throw new ErrnoException("recv", e, op + " reply" + (e == Errno.EAGAIN ? " (no answer within 30 s)" : "")
                        + (context == null ? "" : " " + context));
            }
            if (n > buf.size()) {
                grow(n);
            }
            long r = C.recv(fd.fd(), buf.address(), buf.size(), 0);
            if (r < 0) {
                int e = Native.errno();
                if (e == Errno.EINTR) {
                    continue;
                }
                throw new ErrnoException("recv", e, op + " reply");
            }
            byte[] data = new byte[(int) r];
            buf.get(0, data, 0, data.length);
            return ByteBuffer.wrap(data).order(ByteOrder.nativeOrder());
        }
    }

    private void grow(long atLeast) {
        long size = buf.size();
        while (size < atLeast) {
            size *= 2;
        }
        NativeBuffer nb = new NativeBuffer(size);
        buf.close();
        buf = nb;
    }

    @Override
    public synchronized void close() {
        fd.close();
        buf.close();
        addr.close();
    }
}

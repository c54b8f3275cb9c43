package dev.jvmm.sys;

import java.nio.charset.StandardCharsets;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;

/**
 * The one libc binding of jvmm, made once by {@link Native}. Pointers are passed as raw {@code long}
 * addresses (x86-64 passes pointers and 64-bit integers the same way), so callers manage native memory
 * themselves with {@link NativeBuffer}, {@link Mmap} or guest RAM, and no call allocates ({@link #open} excepted).
 *
 * <p>Every call goes straight to jffi's numeric invokers with a libffi call context made here: one {@code dlsym}
 * and one context per function, no generated classes. (jnr-ffi's {@code LibraryLoader} made the same calls through
 * a stub class it generated with ASM at run time, which cost a third of {@code jvmm launch}'s start-up and could
 * not be kept in the AppCDS archive; see docs/performance.md.) Every function saves errno; read it with
 * {@link Native#errno()} right after the call. Declare only what is used.
 */
public final class LibC {
    private static final Invoker INVOKER = Invoker.getInstance();
    private static final MemoryIO IO = MemoryIO.getInstance();
    private static final Type I = Type.SINT32;
    private static final Type L = Type.SINT64;
    private static final Library C = open();

    /** One bound function: its address and the libffi description of its C prototype. */
    private record Fn(String name, long address, CallContext ctx) {
    }

    private static Library open() {
        Library lib = Library.getCachedInstance("libc.so.6", Library.LAZY | Library.GLOBAL);
        if (lib == null) {
            throw new UnsatisfiedLinkError("cannot open libc.so.6: " + Library.getLastError());
        }
        return lib;
    }

    private static Fn fn(String name, Type ret, Type... params) {
        long address = C.getSymbolAddress(name);
        if (address == 0) {
            throw new UnsatisfiedLinkError("libc.so.6 has no " + name + ": " + Library.getLastError());
        }
        return new Fn(name, address, CallContext.getCallContext(ret, params, CallingConvention.DEFAULT, true));
    }

    private static final Fn OPEN = fn("open", I, L, I, I);
    private static final Fn CLOSE = fn("close", I, I);
    private static final Fn IOCTL = fn("ioctl", I, I, L, L);
    private static final Fn MMAP = fn("mmap", L, L, L, I, I, I, L);
    private static final Fn MUNMAP = fn("munmap", I, L, L);
    private static final Fn MADVISE = fn("madvise", I, L, L, I);
    private static final Fn EVENTFD = fn("eventfd", I, I, I);
    private static final Fn EPOLL_CREATE1 = fn("epoll_create1", I, I);
    private static final Fn EPOLL_CTL = fn("epoll_ctl", I, I, I, I, L);
    private static final Fn EPOLL_WAIT = fn("epoll_wait", I, I, L, I, I);
    private static final Fn READ = fn("read", L, I, L, L);
    private static final Fn WRITE = fn("write", L, I, L, L);
    private static final Fn READV = fn("readv", L, I, L, I);
    private static final Fn WRITEV = fn("writev", L, I, L, I);
    private static final Fn PREADV = fn("preadv", L, I, L, I, L);
    private static final Fn PWRITEV = fn("pwritev", L, I, L, I, L);
    private static final Fn PREAD = fn("pread", L, I, L, L, L);
    private static final Fn PWRITE = fn("pwrite", L, I, L, L, L);
    private static final Fn FCNTL = fn("fcntl", I, I, I, I);
    private static final Fn SOCKET = fn("socket", I, I, I, I);
    private static final Fn BIND = fn("bind", I, I, L, I);
    private static final Fn CONNECT = fn("connect", I, I, L, I);
    private static final Fn LISTEN = fn("listen", I, I, I);
    private static final Fn ACCEPT4 = fn("accept4", I, I, L, L, I);
    private static final Fn SHUTDOWN = fn("shutdown", I, I, I);
    private static final Fn TIMERFD_CREATE = fn("timerfd_create", I, I, I);
    private static final Fn TIMERFD_SETTIME = fn("timerfd_settime", I, I, I, L, L);
    private static final Fn SENDMSG = fn("sendmsg", L, I, L, I);
    private static final Fn RECVMSG = fn("recvmsg", L, I, L, I);
    private static final Fn SENDTO = fn("sendto", L, I, L, L, I, L, I);
    private static final Fn RECV = fn("recv", L, I, L, L, I);
    private static final Fn GETPID = fn("getpid", I);
    private static final Fn GETTID = fn("gettid", I);
    private static final Fn TGKILL = fn("tgkill", I, I, I, I);
    private static final Fn FDATASYNC = fn("fdatasync", I, I);
    private static final Fn FALLOCATE = fn("fallocate", I, I, I, L, L);
    private static final Fn LSEEK = fn("lseek", L, I, L, I);
    private static final Fn FTRUNCATE = fn("ftruncate", I, I, L);
    private static final Fn SETSOCKOPT = fn("setsockopt", I, I, I, I, L, I);
    private static final Fn SETNS = fn("setns", I, I, I);
    /** {@code long syscall(long number, ...)}, bound with five system call arguments (all jvmm needs). */
    private static final Fn SYSCALL = fn("syscall", L, L, L, L, L, L, L);

    LibC() {
    }

    private static int i(Fn f, long a) {
        return (int) INVOKER.invokeN1(f.ctx, f.address, a);
    }

    private static int i(Fn f, long a, long b) {
        return (int) INVOKER.invokeN2(f.ctx, f.address, a, b);
    }

    private static long l(Fn f, long a, long b, long c) {
        return INVOKER.invokeN3(f.ctx, f.address, a, b, c);
    }

    private static long l(Fn f, long a, long b, long c, long d) {
        return INVOKER.invokeN4(f.ctx, f.address, a, b, c, d);
    }

    /** open(2); {@code path} is passed as UTF-8 and must not contain a NUL character. */
    public int open(String path, int flags, int mode) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "open", path);
        }
        if (path.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("path contains a NUL character: " + path.replace('\0', '?'));
        }
        byte[] b = path.getBytes(StandardCharsets.UTF_8);
        long s = IO.allocateMemory(b.length + 1, false);
        if (s == 0) {
            throw new OutOfMemoryError("no native memory for the path " + path);
        }
        try {
            IO.putByteArray(s, b, 0, b.length);
            IO.putByte(s + b.length, (byte) 0);
            return (int) l(OPEN, s, flags, mode);
        } finally {
            IO.freeMemory(s);
        }
    }

    public int close(int fd) {
        return i(CLOSE, fd);
    }

    public int ioctl(int fd, long request, long arg) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "ioctl", Faults.fd(fd) + ", 0x" + Long.toHexString(request));
        }
        return (int) l(IOCTL, fd, request, arg);
    }

    public long mmap(long addr, long length, int prot, int flags, int fd, long offset) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.ENOMEM, "mmap", "length " + length + (fd >= 0 ? ", " + Faults.fd(fd) : ", anonymous"));
        }
        return INVOKER.invokeN6(MMAP.ctx, MMAP.address, addr, length, prot, flags, fd, offset);
    }

    public int munmap(long addr, long length) {
        return i(MUNMAP, addr, length);
    }

    public int madvise(long addr, long length, int advice) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.ENOMEM, "madvise", "length " + length + ", advice " + advice);
        }
        return (int) l(MADVISE, addr, length, advice);
    }

    public int eventfd(int initval, int flags) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.ENOMEM, "eventfd", "");
        }
        return i(EVENTFD, initval, flags);
    }

    public int epoll_create1(int flags) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.ENOMEM, "epoll_create1", "");
        }
        return i(EPOLL_CREATE1, flags);
    }

    public int epoll_ctl(int epfd, int op, int fd, long event) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.ENOMEM, "epoll_ctl", "op " + op + ", " + Faults.fd(fd));
        }
        return (int) l(EPOLL_CTL, epfd, op, fd, event);
    }

    public int epoll_wait(int epfd, long events, int maxevents, int timeout) {
        return (int) l(EPOLL_WAIT, epfd, events, maxevents, timeout);
    }

    public long read(int fd, long buf, long count) {
        return l(READ, fd, buf, count);
    }

    public long write(int fd, long buf, long count) {
        return l(WRITE, fd, buf, count);
    }

    public long readv(int fd, long iov, int iovcnt) {
        return l(READV, fd, iov, iovcnt);
    }

    public long writev(int fd, long iov, int iovcnt) {
        return l(WRITEV, fd, iov, iovcnt);
    }

    public long preadv(int fd, long iov, int iovcnt, long offset) {
        return l(PREADV, fd, iov, iovcnt, offset);
    }

    public long pwritev(int fd, long iov, int iovcnt, long offset) {
        return l(PWRITEV, fd, iov, iovcnt, offset);
    }

    public long pread(int fd, long buf, long count, long offset) {
        return l(PREAD, fd, buf, count, offset);
    }

    public long pwrite(int fd, long buf, long count, long offset) {
        return l(PWRITE, fd, buf, count, offset);
    }

    public int fcntl(int fd, int cmd, int arg) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "fcntl", Faults.fd(fd) + ", cmd " + cmd);
        }
        return (int) l(FCNTL, fd, cmd, arg);
    }

    public int socket(int domain, int type, int protocol) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.ENOMEM, "socket", "domain " + domain + ", type " + type);
        }
        return (int) l(SOCKET, domain, type, protocol);
    }

    public int bind(int fd, long addr, int addrlen) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "bind", Faults.fd(fd));
        }
        return (int) l(BIND, fd, addr, addrlen);
    }

    /** connect(2); used by AF_VSOCK stream sockets. */
    public int connect(int fd, long addr, int addrlen) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "connect", Faults.fd(fd));
        }
        return (int) l(CONNECT, fd, addr, addrlen);
    }

    /** listen(2) on a bound stream socket (a virtio-console port's unix socket). */
    public int listen(int fd, int backlog) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "listen", Faults.fd(fd));
        }
        return i(LISTEN, fd, backlog);
    }

    /** accept4(2): the next waiting connection, with {@code flags} (SOCK_NONBLOCK, SOCK_CLOEXEC) on its fd. */
    public int accept4(int fd, long addr, long addrlen, int flags) {
        return (int) l(ACCEPT4, fd, addr, addrlen, flags);
    }

    /** shutdown(2). */
    public int shutdown(int fd, int how) {
        return i(SHUTDOWN, fd, how);
    }

    /** timerfd_create(2): a timer whose expiry makes its fd readable (virtio-rng's rate limit). */
    public int timerfd_create(int clockid, int flags) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.ENOMEM, "timerfd_create", "");
        }
        return i(TIMERFD_CREATE, clockid, flags);
    }

    /** timerfd_settime(2) with a {@code struct itimerspec} at {@code newValue}; {@code oldValue} may be 0. */
    public int timerfd_settime(int fd, int flags, long newValue, long oldValue) {
        return (int) l(TIMERFD_SETTIME, fd, flags, newValue, oldValue);
    }

    public long sendmsg(int fd, long msg, int flags) {
        return l(SENDMSG, fd, msg, flags);
    }

    public long recvmsg(int fd, long msg, int flags) {
        return l(RECVMSG, fd, msg, flags);
    }

    public long sendto(int fd, long buf, long len, int flags, long destAddr, int addrlen) {
        return INVOKER.invokeN6(SENDTO.ctx, SENDTO.address, fd, buf, len, flags, destAddr, addrlen);
    }

    public long recv(int fd, long buf, long len, int flags) {
        return l(RECV, fd, buf, len, flags);
    }

    public int getpid() {
        return (int) INVOKER.invokeN0(GETPID.ctx, GETPID.address);
    }

    /** gettid(2): the calling thread's kernel id (glibc 2.30+). */
    public int gettid() {
        return (int) INVOKER.invokeN0(GETTID.ctx, GETTID.address);
    }

    /** tgkill(2): send a signal to one thread, e.g. to kick a vCPU thread out of KVM_RUN. */
    public int tgkill(int tgid, int tid, int sig) {
        return (int) l(TGKILL, tgid, tid, sig);
    }

    // Block backends (virtio-blk): flush, discard/write-zeroes and sizing.
    public int fdatasync(int fd) {
        return i(FDATASYNC, fd);
    }

    public int fallocate(int fd, int mode, long offset, long len) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "fallocate", Faults.fd(fd));
        }
        return (int) l(FALLOCATE, fd, mode, offset, len);
    }

    public long lseek(int fd, long offset, int whence) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "lseek", Faults.fd(fd));
        }
        return l(LSEEK, fd, offset, whence);
    }

    /** ftruncate(2): sets a file's size; a guest RAM dump ends with it so that trailing zero pages stay holes. */
    public int ftruncate(int fd, long length) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "ftruncate", Faults.fd(fd));
        }
        return i(FTRUNCATE, fd, length);
    }

    /** setsockopt(2); used for SOL_NETLINK options (NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK) and SO_RCVBUF. */
    public int setsockopt(int fd, int level, int optname, long optval, int optlen) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "setsockopt", Faults.fd(fd) + ", option " + optname);
        }
        return (int) INVOKER.invokeN5(SETSOCKOPT.ctx, SETSOCKOPT.address, fd, level, optname, optval, optlen);
    }

    /**
     * syscall(2) with up to five arguments, for system calls glibc has no wrapper for (io_uring). The sixth argument
     * register is left unset: pass only calls that ignore theirs (io_uring_enter reads {@code argsz} only with a
     * signal mask or IORING_ENTER_EXT_ARG, neither of which jvmm passes). Returns the result, or -1 with errno set.
     */
    public long syscall(long number, long a1, long a2, long a3, long a4, long a5) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.ENOMEM, "syscall", "nr " + number);
        }
        return INVOKER.invokeN6(SYSCALL.ctx, SYSCALL.address, number, a1, a2, a3, a4, a5);
    }

    /** setns(2): moves the calling thread into the namespace behind {@code fd} (tests put TAPs and sockets in a netns). */
    public int setns(int fd, int nstype) {
        if (Faults.ON && Faults.hit()) {
            return Faults.fail(Errno.EIO, "setns", Faults.fd(fd));
        }
        return i(SETNS, fd, nstype);
    }
}

package dev.jvmm.sys;

import jnr.ffi.annotations.SaveError;

/**
 * The one libc binding of jvmm, loaded once by {@link Native}. Pointers are passed as raw {@code long}
 * addresses (x86-64 passes pointers and 64-bit integers the same way), so callers manage native memory
 * themselves with {@link NativeBuffer}, {@link Mmap} or guest RAM, and no call allocates.
 *
 * <p>Every function saves errno; read it with {@link Native#errno()} right after the call.
 */
public interface LibC {
    @SaveError int open(String path, int flags, int mode);

    @SaveError int close(int fd);

    @SaveError int ioctl(int fd, long request, long arg);

    @SaveError long mmap(long addr, long length, int prot, int flags, int fd, long offset);

    @SaveError int munmap(long addr, long length);

    @SaveError int eventfd(int initval, int flags);

    @SaveError int epoll_create1(int flags);

    @SaveError int epoll_ctl(int epfd, int op, int fd, long event);

    @SaveError int epoll_wait(int epfd, long events, int maxevents, int timeout);

    @SaveError long read(int fd, long buf, long count);

    @SaveError long write(int fd, long buf, long count);

    @SaveError long readv(int fd, long iov, int iovcnt);

    @SaveError long writev(int fd, long iov, int iovcnt);

    @SaveError long preadv(int fd, long iov, int iovcnt, long offset);

    @SaveError long pwritev(int fd, long iov, int iovcnt, long offset);

    @SaveError long pread(int fd, long buf, long count, long offset);

    @SaveError long pwrite(int fd, long buf, long count, long offset);

    @SaveError int fcntl(int fd, int cmd, int arg);

    @SaveError int socket(int domain, int type, int protocol);

    @SaveError int bind(int fd, long addr, int addrlen);

    @SaveError long sendmsg(int fd, long msg, int flags);

    @SaveError long recvmsg(int fd, long msg, int flags);

    @SaveError long sendto(int fd, long buf, long len, int flags, long destAddr, int addrlen);

    @SaveError long recv(int fd, long buf, long len, int flags);

    @SaveError int getpid();

    /** gettid(2): the calling thread's kernel id (glibc 2.30+). */
    int gettid();

    /** tgkill(2): send a signal to one thread, e.g. to kick a vCPU thread out of KVM_RUN. */
    @SaveError int tgkill(int tgid, int tid, int sig);

    // Block backends (virtio-blk): flush, discard/write-zeroes and sizing.
    @SaveError int fdatasync(int fd);

    @SaveError int fallocate(int fd, int mode, long offset, long len);

    @SaveError long lseek(int fd, long offset, int whence);

    /** setsockopt(2); used for SOL_NETLINK options (NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK) and SO_RCVBUF. */
    @SaveError int setsockopt(int fd, int level, int optname, long optval, int optlen);

    /** setns(2): moves the calling thread into the namespace behind {@code fd} (tests put TAPs and sockets in a netns). */
    @SaveError int setns(int fd, int nstype);
}

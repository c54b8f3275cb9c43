package dev.jvmm.sys.vhost;

import static dev.jvmm.sys.vhost.uapi.VhostIoctls.*;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.FlexArray;
import dev.jvmm.sys.LibC;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.vhost.uapi.VhostConstants;
import dev.jvmm.sys.vhost.uapi.VhostMemory;
import dev.jvmm.sys.vhost.uapi.VhostMemoryRegion;
import dev.jvmm.sys.vhost.uapi.VhostVringAddr;
import dev.jvmm.sys.vhost.uapi.VhostVringFile;
import dev.jvmm.sys.vhost.uapi.VhostVringState;
import java.util.List;
import java.util.Objects;

/**
 * A vhost device fd, of {@code /dev/vhost-net} or {@code /dev/vhost-vsock}: typed wrappers over the
 * {@code <linux/vhost.h>} ioctls that hand a virtio device's rings to the kernel, whose vhost worker then serves them
 * without going through the VMM. Each {@code open()} of {@code /dev/vhost-net} makes a new vhost-net device with two
 * rings, RX (index 0) and TX (index 1), moving packets between them and a TAP; a multiqueue NIC opens one per queue
 * pair. Each {@code open()} of {@code /dev/vhost-vsock} makes a vhost-vsock device with two rings, RX (0) and TX (1)
 * (the virtio-vsock event queue stays with the VMM), connected to the host's AF_VSOCK sockets under the guest CID
 * given by {@link #vsockSetGuestCid}; {@link #vsockSetRunning} takes the place of the backend.
 *
 * <p>The kernel expects this order (QEMU's): {@link #setOwner()} first (the memory, log, ring and backend requests
 * fail with EPERM until the fd has an owner), {@link #getFeatures()} and {@link #setFeatures(long)},
 * {@link #setMemTable(List)}, then per ring {@link #setVringNum}, {@link #setVringBase}, {@link #setVringAddr},
 * {@link #setVringKick}, {@link #setVringCall}, and last {@link #netSetBackend} (vhost-net) or
 * {@code vsockSetRunning(true)} (vhost-vsock), which starts the rings.
 * {@code netSetBackend(i, -1)} stops ring {@code i}; {@link #getVringBase} then says where it stopped. A ring index
 * the device does not have fails with ENOBUFS.
 *
 * <p>Errors: a failed ioctl throws {@link ErrnoException} whose op is the ioctl's name and whose context names the
 * fd, the ring index where there is one and the arguments, for example
 * {@code VHOST_SET_VRING_NUM failed: EINVAL (Invalid argument) [/dev/vhost-net index=0 num=300]}.
 *
 * <p>No call allocates unless it fails: the fixed-size arguments go through one scratch buffer of this instance
 * (guarded by {@code this}) and the context string is built only for the exception. {@link #setMemTable(List)} is
 * the exception: its table is sized by the region count, and it runs when the guest's memory layout changes.
 *
 * <p>Owns the fd: {@link #close()} closes it, and the kernel then stops every ring and drops the eventfds and
 * backends it was given (it holds its own references to them, so the caller may close those fds at any time).
 */
public final class VhostFd implements AutoCloseable {
    /** The vhost-net device node. */
    public static final String DEV_VHOST_NET = "/dev/vhost-net";
    /** The vhost-vsock device node (module {@code vhost_vsock}). */
    public static final String DEV_VHOST_VSOCK = "/dev/vhost-vsock";
    private static final LibC C = Native.LIBC;
    private final Fd fd;
    /** Scratch for the fixed-size arguments (the largest is {@code struct vhost_vring_addr}); guarded by {@code this}. */
    private final NativeBuffer arg;

    /**
     * One region of the guest's memory table for {@link #setMemTable(List)}: guest-physical
     * {@code [guestPhysAddr, guestPhysAddr + memorySize)} is mapped in this process at {@code userspaceAddr}.
     *
     * @param guestPhysAddr guest-physical start of the region
     * @param memorySize    bytes, more than 0
     * @param userspaceAddr host virtual address of the region's first byte in this process
     */
    public record MemoryRegion(long guestPhysAddr, long memorySize, long userspaceAddr) {
    }

    /**
     * Adopts an already-open vhost fd: one passed by a management layer (as libvirt passes QEMU a {@code vhostfd}),
     * or any fd in tests. It is owned from here on and closed by {@link #close()}, also if this constructor fails.
     */
    public VhostFd(Fd fd) {
        this.fd = Objects.requireNonNull(fd, "fd");
        try {
            fd.fd(); // refuses a closed Fd here rather than at the first ioctl
            this.arg = new NativeBuffer(VhostVringAddr.SIZEOF);
        } catch (RuntimeException | Error e) {
            fd.close();
            throw e;
        }
    }

    /** Opens {@link #DEV_VHOST_NET}; see {@link #open(String)}. */
    public static VhostFd open() {
        return open(DEV_VHOST_NET);
    }

    /**
     * Opens the vhost device at {@code path} read-write and close-on-exec: a new device with no owner yet. A missing
     * or inaccessible node fails with an {@link ErrnoException} of {@code open} naming the path (for
     * {@code /dev/vhost-net}: the {@code vhost_net} module is not loaded, or the user may not open it), and leaves no
     * fd behind.
     */
    public static VhostFd open(String path) {
        return new VhostFd(Fd.open(path, Native.O_RDWR));
    }

    /**
     * Opens {@link #DEV_VHOST_VSOCK}: a new vhost-vsock device. When the node is missing or cannot be opened the
     * {@link ErrnoException} of {@code open} names the node and the remedy ({@code modprobe vhost_vsock}, or access
     * to the node), and no fd is left behind.
     */
    public static VhostFd openVsock() {
        return openVsock(DEV_VHOST_VSOCK);
    }

    /** As {@link #openVsock()}, the node at {@code path}. */
    public static VhostFd openVsock(String path) {
        try {
            return open(path);
        } catch (ErrnoException e) {
            String hint = switch (e.errnoName()) {
                case "ENOENT", "ENODEV", "ENXIO" -> "the host's vhost-vsock is not loaded: modprobe vhost_vsock";
                case "EACCES", "EPERM" -> "no permission to open it: run as root or give this user access to " + path;
                default -> "needed by --vsock (module vhost_vsock)";
            };
            throw new ErrnoException("open", e.errno(), path + ": " + hint);
        }
    }

    /** The owned fd (its name is the one error contexts start with). */
    public Fd fd() {
        return fd;
    }

    /**
     * VHOST_SET_OWNER: makes this process the device's owner, which the kernel requires before the memory, ring and
     * backend requests; the kernel starts the device's worker thread here. Fails with EBUSY when it already has one.
     */
    public void setOwner() {
        fd.ioctl("VHOST_SET_OWNER", VHOST_SET_OWNER, 0);
    }

    /**
     * VHOST_RESET_OWNER: stops every ring, drops the memory table, eventfds and backends, and gives up ownership, so
     * that the device can be set up again from {@link #setOwner()}.
     */
    public void resetOwner() {
        fd.ioctl("VHOST_RESET_OWNER", VHOST_RESET_OWNER, 0);
    }

    /**
     * VHOST_GET_FEATURES: the feature bits the device offers, as a mask of {@code 1L << bit}: virtio transport and
     * ring bits and vhost's {@code VHOST_F_LOG_ALL} and {@code VHOST_NET_F_VIRTIO_NET_HDR} (numbers in
     * {@link VhostConstants}), and virtio-net's own such as {@code VIRTIO_NET_F_MRG_RXBUF}.
     */
    public synchronized long getFeatures() {
        int f = fd.fd();
        arg.putLong(0, 0);
        if (C.ioctl(f, VHOST_GET_FEATURES, arg.address()) < 0) {
            throw failed("VHOST_GET_FEATURES", Native.errno(), "");
        }
        return arg.getLong(0);
    }

    /**
     * VHOST_SET_FEATURES: the feature bits to use, those the guest driver negotiated (plus vhost's own, such as
     * {@code VHOST_F_LOG_ALL} while migrating). A bit the device does not offer fails with EOPNOTSUPP.
     */
    public synchronized void setFeatures(long features) {
        int f = fd.fd();
        arg.putLong(0, features);
        if (C.ioctl(f, VHOST_SET_FEATURES, arg.address()) < 0) {
            throw failed("VHOST_SET_FEATURES", Native.errno(), "features=0x" + Long.toHexString(features));
        }
    }

    /**
     * VHOST_SET_MEM_TABLE: replaces the table the kernel translates the guest-physical addresses in descriptors with,
     * so every region a descriptor can point into must be there. More regions than vhost's {@code max_mem_regions}
     * module parameter (64 by default) fail with E2BIG; a region whose host range is not this process's memory with
     * EFAULT.
     */
    public synchronized void setMemTable(List<MemoryRegion> regions) {
        int f = fd.fd();
        try (FlexArray table = new FlexArray(VhostMemory.SIZEOF, VhostMemoryRegion.SIZEOF, regions.size())) {
            putMemTable(table, regions);
            if (C.ioctl(f, VHOST_SET_MEM_TABLE, table.address()) < 0) {
                throw failed("VHOST_SET_MEM_TABLE", Native.errno(), describe(regions));
            }
        }
    }

    /**
     * VHOST_SET_LOG_BASE: the host address of the dirty log, one bit per {@link VhostConstants#VHOST_PAGE_SIZE} page
     * of guest-physical memory, which the device sets (atomically) for every page it writes once
     * {@code VHOST_F_LOG_ALL} is negotiated, and for used-ring writes of rings set up with
     * {@link VhostConstants#VHOST_VRING_F_LOG}.
     */
    public synchronized void setLogBase(long hostAddress) {
        int f = fd.fd();
        arg.putLong(0, hostAddress);
        if (C.ioctl(f, VHOST_SET_LOG_BASE, arg.address()) < 0) {
            throw failed("VHOST_SET_LOG_BASE", Native.errno(), "log=0x" + Long.toHexString(hostAddress));
        }
    }

    /**
     * VHOST_SET_VRING_NUM: ring {@code index}'s size in descriptors, a power of two up to 32768 (EINVAL otherwise).
     * It cannot change while the ring has a backend (EBUSY).
     */
    public synchronized void setVringNum(int index, int num) {
        int f = fd.fd();
        putVringState(arg, index, num);
        if (C.ioctl(f, VHOST_SET_VRING_NUM, arg.address()) < 0) {
            throw failed("VHOST_SET_VRING_NUM", Native.errno(), "index=" + index + " num=" + num);
        }
    }

    /**
     * VHOST_SET_VRING_BASE: the available-ring index ring {@code index} starts from (0 for a fresh ring; the value
     * {@link #getVringBase} returned when the ring moves, e.g. after migration). At most 0xffff for a split ring
     * (EINVAL), and not while the ring has a backend (EBUSY).
     */
    public synchronized void setVringBase(int index, int base) {
        int f = fd.fd();
        putVringState(arg, index, base);
        if (C.ioctl(f, VHOST_SET_VRING_BASE, arg.address()) < 0) {
            throw failed("VHOST_SET_VRING_BASE", Native.errno(), "index=" + index + " base=" + base);
        }
    }

    /**
     * VHOST_GET_VRING_BASE: the last available index ring {@code index} has taken (for a split ring, the next
     * {@code avail->ring} entry it would process). Ask after {@code netSetBackend(index, -1)}: a running ring moves on.
     */
    public synchronized int getVringBase(int index) {
        int f = fd.fd();
        putVringState(arg, index, 0);
        if (C.ioctl(f, VHOST_GET_VRING_BASE, arg.address()) < 0) {
            throw failed("VHOST_GET_VRING_BASE", Native.errno(), "index=" + index);
        }
        return arg.getInt(VhostVringState.NUM);
    }

    /**
     * VHOST_SET_VRING_ADDR: where ring {@code index}'s descriptor table, used ring and available ring are, as host
     * virtual addresses in this process (guest RAM's mapping). {@code flags} is 0, or
     * {@code 1 << VHOST_VRING_F_LOG} to log used-ring writes at {@code logGuestAddr}, the used ring's
     * guest-physical address (ignored otherwise); any other flag fails with EOPNOTSUPP. Misaligned rings fail with
     * EINVAL; the kernel checks that the rings are this process's memory when the ring gets a backend.
     */
    public synchronized void setVringAddr(int index, int flags, long descUser, long usedUser, long availUser,
            long logGuestAddr) {
        int f = fd.fd();
        putVringAddr(arg, index, flags, descUser, usedUser, availUser, logGuestAddr);
        if (C.ioctl(f, VHOST_SET_VRING_ADDR, arg.address()) < 0) {
            throw failed("VHOST_SET_VRING_ADDR", Native.errno(), "index=" + index + " flags=0x" + Integer.toHexString(flags)
                    + " desc=0x" + Long.toHexString(descUser) + " used=0x" + Long.toHexString(usedUser) + " avail=0x"
                    + Long.toHexString(availUser) + " log=0x" + Long.toHexString(logGuestAddr));
        }
    }

    /**
     * VHOST_SET_VRING_KICK: the eventfd the guest's notifications of ring {@code index} arrive on (the one registered
     * as the queue's ioeventfd with KVM), which the vhost worker polls. {@code eventFd} -1 unbinds it.
     */
    public synchronized void setVringKick(int index, int eventFd) {
        setVringFile("VHOST_SET_VRING_KICK", VHOST_SET_VRING_KICK, index, eventFd);
    }

    /**
     * VHOST_SET_VRING_CALL: the eventfd the device signals when it has used buffers of ring {@code index} (the one
     * registered as the queue's MSI-X vector irqfd with KVM, so the interrupt reaches the guest without the VMM).
     * {@code eventFd} -1 unbinds it.
     */
    public synchronized void setVringCall(int index, int eventFd) {
        setVringFile("VHOST_SET_VRING_CALL", VHOST_SET_VRING_CALL, index, eventFd);
    }

    /**
     * VHOST_SET_VRING_ERR: the eventfd the device signals when ring {@code index} meets an error it cannot go on
     * from (a bad descriptor or address); {@code eventFd} -1 unbinds it.
     */
    public synchronized void setVringErr(int index, int eventFd) {
        setVringFile("VHOST_SET_VRING_ERR", VHOST_SET_VRING_ERR, index, eventFd);
    }

    /**
     * VHOST_NET_SET_BACKEND: attaches ring {@code index} to a TAP queue fd (or a packet socket), which starts it: the
     * kernel checks the ring's addresses then (EFAULT). {@code tapFd} -1
     * ({@link VhostConstants#VHOST_FILE_UNBIND}) detaches and stops the ring.
     */
    public synchronized void netSetBackend(int index, int tapFd) {
        setVringFile("VHOST_NET_SET_BACKEND", VHOST_NET_SET_BACKEND, index, tapFd);
    }

    /**
     * VHOST_VSOCK_SET_GUEST_CID: the CID the guest behind this vhost-vsock fd answers to, which the host's AF_VSOCK
     * sockets connect to. Needs no owner. EINVAL for a reserved CID (0, 1, 2, or 2^32-1 and above); EADDRINUSE when
     * another vhost-vsock device (another VM) or a local transport already has it.
     */
    public synchronized void vsockSetGuestCid(long cid) {
        int f = fd.fd();
        arg.putLong(0, cid);
        if (C.ioctl(f, VHOST_VSOCK_SET_GUEST_CID, arg.address()) < 0) {
            int e = Native.errno();
            throw failed("VHOST_VSOCK_SET_GUEST_CID", e, "cid=" + cid
                    + (e == dev.jvmm.sys.Errno.EADDRINUSE ? " (another VM on this host has this CID)" : ""));
        }
    }

    /**
     * VHOST_VSOCK_SET_RUNNING: {@code true} starts the vhost-vsock rings (the kernel checks their addresses then,
     * EFAULT), {@code false} stops them; {@link #getVringBase} then says where each stopped.
     */
    public synchronized void vsockSetRunning(boolean running) {
        int f = fd.fd();
        arg.putInt(0, running ? 1 : 0);
        if (C.ioctl(f, VHOST_VSOCK_SET_RUNNING, arg.address()) < 0) {
            throw failed("VHOST_VSOCK_SET_RUNNING", Native.errno(), "running=" + (running ? 1 : 0));
        }
    }

    private void setVringFile(String op, long request, int index, int file) {
        int f = fd.fd();
        putVringFile(arg, index, file);
        if (C.ioctl(f, request, arg.address()) < 0) {
            throw failed(op, Native.errno(), "index=" + index + " fd=" + file);
        }
    }

    private ErrnoException failed(String op, int errno, String detail) {
        return new ErrnoException(op, errno, detail.isEmpty() ? fd.name() : fd.name() + " " + detail);
    }

    private static String describe(List<MemoryRegion> regions) {
        StringBuilder sb = new StringBuilder("regions=").append(regions.size());
        for (int i = 0; i < regions.size(); i++) {
            MemoryRegion r = regions.get(i);
            sb.append(i == 0 ? ": " : "; ").append("gpa=0x").append(Long.toHexString(r.guestPhysAddr()))
                    .append(" size=0x").append(Long.toHexString(r.memorySize()))
                    .append(" hva=0x").append(Long.toHexString(r.userspaceAddr()));
        }
        return sb.toString();
    }

    /** Writes every byte of a {@code struct vhost_vring_state} at the start of {@code b}. */
    static void putVringState(NativeBuffer b, int index, int num) {
        b.putInt(VhostVringState.INDEX, index);
        b.putInt(VhostVringState.NUM, num);
    }

    /** Writes every byte of a {@code struct vhost_vring_file} at the start of {@code b}. */
    static void putVringFile(NativeBuffer b, int index, int fd) {
        b.putInt(VhostVringFile.INDEX, index);
        b.putInt(VhostVringFile.FD, fd);
    }

    /** Writes every byte of a {@code struct vhost_vring_addr} at the start of {@code b}. */
    static void putVringAddr(NativeBuffer b, int index, int flags, long descUser, long usedUser, long availUser,
            long logGuestAddr) {
        b.putInt(VhostVringAddr.INDEX, index);
        b.putInt(VhostVringAddr.FLAGS, flags);
        b.putLong(VhostVringAddr.DESC_USER_ADDR, descUser);
        b.putLong(VhostVringAddr.USED_USER_ADDR, usedUser);
        b.putLong(VhostVringAddr.AVAIL_USER_ADDR, availUser);
        b.putLong(VhostVringAddr.LOG_GUEST_ADDR, logGuestAddr);
    }

    /**
     * Writes every byte of a {@code struct vhost_memory} with {@code regions} into {@code table}, which has room for
     * exactly that many; both padding fields are 0 (the kernel refuses a non-zero {@code padding}).
     */
    static void putMemTable(FlexArray table, List<MemoryRegion> regions) {
        if (table.capacity() != regions.size()) {
            throw new IllegalArgumentException("a table of " + table.capacity() + " entries for " + regions.size()
                    + " regions");
        }
        NativeBuffer b = table.buffer();
        b.putInt(VhostMemory.NREGIONS, regions.size());
        b.putInt(VhostMemory.PADDING, 0);
        for (int i = 0; i < regions.size(); i++) {
            MemoryRegion r = regions.get(i);
            long o = table.entry(i);
            b.putLong(o + VhostMemoryRegion.GUEST_PHYS_ADDR, r.guestPhysAddr());
            b.putLong(o + VhostMemoryRegion.MEMORY_SIZE, r.memorySize());
            b.putLong(o + VhostMemoryRegion.USERSPACE_ADDR, r.userspaceAddr());
            b.putLong(o + VhostMemoryRegion.FLAGS_PADDING, 0);
        }
    }

    /** Closes the fd (the kernel stops the rings) and frees the scratch buffer; idempotent. */
    @Override
    public synchronized void close() {
        fd.close();
        arg.close();
    }

    @Override
    public String toString() {
        return "vhost " + fd;
    }
}

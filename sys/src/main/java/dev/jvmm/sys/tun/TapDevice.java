package dev.jvmm.sys.tun;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A TAP interface as a set of queue file descriptors on {@code /dev/net/tun} (one per queue with
 * IFF_MULTI_QUEUE). A TAP that jvmm creates is not persistent, so the kernel deletes the interface when the last
 * queue fd closes; an existing (persistent) TAP given by name, or fds passed in, are only attached and are left
 * as they were. Queue fds are non-blocking and close-on-exec.
 *
 * <p>Frames carry a {@code struct virtio_net_hdr} prefix when opened with IFF_VNET_HDR; {@link #setVnetHdrSize}
 * (TUNSETVNETHDRSZ) sets its size and {@link #setOffload} (TUNSETOFFLOAD) the offloads the reader accepts.
 */
public final class TapDevice implements AutoCloseable {
    private static final String TUN = "/dev/net/tun";
    private final String name;
    private final List<Fd> queues;
    private final boolean created;
    private final int flags;
    private final boolean[] attached;

    private TapDevice(String name, List<Fd> queues, boolean created, int flags) {
        this.attached = new boolean[queues.size()];
        java.util.Arrays.fill(attached, true);
        this.name = name;
        this.queues = queues;
        this.created = created;
        this.flags = flags;
    }

    /**
     * Creates a TAP (or attaches to an existing one of that name) with {@code queues} queues.
     *
     * @param name      interface name, or a pattern with {@code %d} (e.g. {@code jvmmtap%d}) for the kernel to
     *                  number, or null for {@code jvmmtap%d}
     * @param queues    number of queues; more than 1 sets IFF_MULTI_QUEUE
     * @param vnetHdr   whether frames carry a virtio-net header (IFF_VNET_HDR)
     */
    public static TapDevice open(String name, int queues, boolean vnetHdr) {
        String n = name == null ? "jvmmtap%d" : name;
        byte[] nb = n.getBytes(StandardCharsets.US_ASCII);
        if (nb.length == 0 || nb.length >= Ifreq.IFNAMSIZ || n.contains("/") || n.contains(" ")) {
            throw new IllegalArgumentException("tap name '" + n + "' must be 1 to 15 characters without '/' or spaces");
        }
        if (queues < 1 || queues > 256) {
            throw new IllegalArgumentException("tap queues " + queues + " must be 1..256");
        }
        boolean existed = !n.contains("%") && Files.exists(Path.of("/sys/class/net", n));
        int flags = TunConstants.IFF_TAP | TunConstants.IFF_NO_PI | (vnetHdr ? TunConstants.IFF_VNET_HDR : 0)
                | (queues > 1 ? TunConstants.IFF_MULTI_QUEUE : 0);
        List<Fd> fds = new ArrayList<>();
        String actual = n;
        try (NativeBuffer ifr = new NativeBuffer(Ifreq.SIZEOF)) {
            for (int q = 0; q < queues; q++) {
                Fd fd = Fd.open(TUN, Native.O_RDWR | Native.O_NONBLOCK);
                fds.add(fd);
                ifr.clear();
                byte[] cur = actual.getBytes(StandardCharsets.US_ASCII);
                ifr.put(Ifreq.IFR_NAME, cur, 0, cur.length);
                ifr.putShort(Ifreq.IFR_FLAGS, flags);
                fd.ioctl("TUNSETIFF", TunConstants.TUNSETIFF, ifr.address(), "tap " + actual + " queue " + q
                        + " flags=0x" + Integer.toHexString(flags));
                actual = readName(ifr);
            }
        } catch (RuntimeException e) {
            fds.forEach(Fd::close);
            throw e;
        }
        return new TapDevice(actual, fds, !existed, flags);
    }

    /**
     * Opens the character device of macvtap {@code ifname} ({@code /dev/tapN}, N its ifindex) {@code queues}
     * times, one fd per queue, with the same flags as a TAP ({@code TUNSETIFF}: IFF_TAP | IFF_NO_PI, IFF_VNET_HDR,
     * IFF_MULTI_QUEUE for more than one). The macvtap itself belongs to whoever created it; closing this closes
     * the fds only.
     */
    public static TapDevice openMacvtap(Path node, String ifname, int queues, boolean vnetHdr) {
        if (queues < 1 || queues > 256) {
            throw new IllegalArgumentException("macvtap queues " + queues + " must be 1..256");
        }
        int flags = TunConstants.IFF_TAP | TunConstants.IFF_NO_PI | (vnetHdr ? TunConstants.IFF_VNET_HDR : 0)
                | (queues > 1 ? TunConstants.IFF_MULTI_QUEUE : 0);
        List<Fd> fds = new ArrayList<>();
        try (NativeBuffer ifr = new NativeBuffer(Ifreq.SIZEOF)) {
            for (int q = 0; q < queues; q++) {
                Fd fd = Fd.open(node.toString(), Native.O_RDWR | Native.O_NONBLOCK);
                fds.add(fd);
                ifr.clear();
                ifr.putShort(Ifreq.IFR_FLAGS, flags);
                fd.ioctl("TUNSETIFF", TunConstants.TUNSETIFF, ifr.address(), "macvtap " + ifname + " (" + node
                        + ") queue " + q + " flags=0x" + Integer.toHexString(flags));
            }
        } catch (RuntimeException e) {
            fds.forEach(Fd::close);
            throw e;
        }
        return new TapDevice(ifname, fds, false, flags);
    }

    /**
     * Adopts already-open TAP queue fds (e.g. passed by a management layer). They are owned from here on and
     * closed by {@link #close()}; the interface itself is not deleted unless no other fd holds it.
     */
    public static TapDevice adopt(int[] fds) {
        List<Fd> list = new ArrayList<>();
        String name = null;
        int flags = 0;
        try (NativeBuffer ifr = new NativeBuffer(Ifreq.SIZEOF)) {
            for (int raw : fds) {
                Fd fd = new Fd(raw, "tap fd " + raw);
                list.add(fd);
                ifr.clear();
                fd.ioctl("TUNGETIFF", TunConstants.TUNGETIFF, ifr.address(), "fd " + raw + " (is it a TAP queue?)");
                name = readName(ifr);
                flags = ifr.getShort(Ifreq.IFR_FLAGS) & 0xffff;
                if ((flags & TunConstants.IFF_TAP) == 0) {
                    throw new IllegalArgumentException("fd " + raw + " is a TUN, not a TAP interface (" + name + ")");
                }
                int fl = Native.LIBC.fcntl(raw, 4 /* F_SETFL */, Native.O_NONBLOCK | Native.LIBC.fcntl(raw, 3 /* F_GETFL */, 0));
                if (fl < 0) {
                    throw new ErrnoException("fcntl(F_SETFL, O_NONBLOCK)", Native.errno(), "tap fd " + raw);
                }
            }
        } catch (RuntimeException e) {
            list.forEach(Fd::close);
            throw e;
        }
        if (list.isEmpty()) {
            throw new IllegalArgumentException("no tap fds given");
        }
        return new TapDevice(name, list, false, flags);
    }

    private static String readName(NativeBuffer ifr) {
        byte[] b = new byte[Ifreq.IFNAMSIZ];
        ifr.get(Ifreq.IFR_NAME, b, 0, b.length);
        int len = 0;
        while (len < b.length && b[len] != 0) {
            len++;
        }
        return new String(b, 0, len, StandardCharsets.US_ASCII);
    }

    public String name() {
        return name;
    }

    /** Whether jvmm created the interface (it disappears when this device closes). */
    public boolean created() {
        return created;
    }

    public int queueCount() {
        return queues.size();
    }

    /** Queue {@code i}'s fd. */
    public Fd queue(int i) {
        return queues.get(i);
    }

    /** Whether frames carry a virtio-net header (IFF_VNET_HDR). */
    public boolean vnetHdr() {
        return (flags & TunConstants.IFF_VNET_HDR) != 0;
    }

    /** TUNSETVNETHDRSZ on every queue (10 legacy, 12 with mergeable buffers or VERSION_1). */
    public void setVnetHdrSize(int size) {
        try (NativeBuffer b = new NativeBuffer(4)) {
            b.putInt(0, size);
            for (Fd q : queues) {
                q.ioctl("TUNSETVNETHDRSZ", TunConstants.TUNSETVNETHDRSZ, b.address(), "tap " + name + " size " + size);
            }
        }
    }

    /** TUNSETOFFLOAD with TUN_F_* bits: the offloaded frames the reader (the guest) accepts. */
    public void setOffload(int tunFlags) {
        for (Fd q : queues) {
            q.ioctl("TUNSETOFFLOAD", TunConstants.TUNSETOFFLOAD, tunFlags & 0xffffffffL,
                    "tap " + name + " offload 0x" + Integer.toHexString(tunFlags));
        }
    }

    /** Enables (IFF_ATTACH_QUEUE) or disables (IFF_DETACH_QUEUE) queue {@code i} of a multiqueue TAP. */
    public synchronized void setQueueEnabled(int i, boolean enabled) {
        if ((flags & TunConstants.IFF_MULTI_QUEUE) == 0 || attached[i] == enabled) {
            return; // the kernel refuses to attach an attached queue (EINVAL)
        }
        try (NativeBuffer ifr = new NativeBuffer(Ifreq.SIZEOF)) {
            ifr.putShort(Ifreq.IFR_FLAGS, enabled ? TunConstants.IFF_ATTACH_QUEUE : TunConstants.IFF_DETACH_QUEUE);
            queues.get(i).ioctl("TUNSETQUEUE", TunConstants.TUNSETQUEUE, ifr.address(), "tap " + name + " queue " + i);
            attached[i] = enabled;
        }
    }

    /** Sets the interface administratively up or down (SIOCSIFFLAGS on an AF_INET socket). */
    public void setUp(boolean up) {
        int s = Native.LIBC.socket(SockiosConstants.AF_INET, SockiosConstants.SOCK_DGRAM | SockiosConstants.SOCK_CLOEXEC, 0);
        if (s < 0) {
            throw new ErrnoException("socket(AF_INET)", Native.errno(), "tap " + name);
        }
        try (Fd sock = new Fd(s, "ifflags socket"); NativeBuffer ifr = new NativeBuffer(Ifreq.SIZEOF)) {
            byte[] nb = name.getBytes(StandardCharsets.US_ASCII);
            ifr.put(Ifreq.IFR_NAME, nb, 0, nb.length);
            sock.ioctl("SIOCGIFFLAGS", SockiosConstants.SIOCGIFFLAGS, ifr.address(), "tap " + name);
            int f = ifr.getShort(Ifreq.IFR_FLAGS) & 0xffff;
            f = up ? f | SockiosConstants.IFF_UP : f & ~SockiosConstants.IFF_UP;
            ifr.putShort(Ifreq.IFR_FLAGS, f);
            sock.ioctl("SIOCSIFFLAGS", SockiosConstants.SIOCSIFFLAGS, ifr.address(), "tap " + name);
        }
    }

    /** Closes every queue fd; a TAP jvmm created is then deleted by the kernel. Idempotent. */
    @Override
    public void close() {
        queues.forEach(Fd::close);
    }

    @Override
    public String toString() {
        return "tap " + name + " (" + queues.size() + " queue" + (queues.size() == 1 ? "" : "s") + ")";
    }
}

package dev.jvmm.virtio.vhost;

import static dev.jvmm.sys.vhost.uapi.VhostConstants.VHOST_F_LOG_ALL;
import static dev.jvmm.sys.vhost.uapi.VhostConstants.VHOST_VRING_F_LOG;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.vhost.VhostFd;
import dev.jvmm.virtio.VirtQueue;
import java.util.ArrayList;
import java.util.List;

/**
 * What every vhost data plane does the same way, whichever device it serves (vhost-net's queue pairs, vhost-vsock's
 * rx and tx): the negotiated features, guest RAM's memory table, each ring's size, place, addresses and eventfds, the
 * rings' place read back when they stop, and dirty logging for migration. The device-specific step that starts the
 * rings ({@code VHOST_NET_SET_BACKEND}, {@code VHOST_VSOCK_SET_RUNNING}) and their fds' lifetime are the caller's.
 *
 * <p>Use: {@link #begin} once, {@link #configure} for each vhost fd (after its {@code VHOST_SET_OWNER}), start the
 * rings; to stop, stop the rings, {@link #readBack} each fd's rings, then {@link #end}.
 *
 * <p>Migration: while the {@link GuestMemory}'s dirty logging is on, every fd has VHOST_F_LOG_ALL and the memory's
 * kernel log as its log base, and each ring logs its used-ring writes (VHOST_VRING_F_LOG at the used ring's
 * guest-physical address); a listener on the memory turns this on and off as logging starts and stops.
 */
public final class VhostRings {
    private final String name;
    private final String kind;
    private final Runnable logListener = this::logChanged;
    private final List<Entry> entries = new ArrayList<>();
    private GuestMemory memory;
    private long features;
    private long logBase;
    private List<VhostFd.MemoryRegion> table;

    /** One vhost fd and the queues that are its rings 0, 1, …. */
    private record Entry(VhostFd fd, VirtQueue[] rings) {
    }

    /** @param kind the vhost device, for messages ({@code vhost-net}, {@code vhost-vsock}) */
    public VhostRings(String name, String kind) {
        this.name = name;
        this.kind = kind;
    }

    /**
     * The vhost features to set for a driver that negotiated {@code guestFeatures}: those of {@code served} (the ones
     * the vhost device acts on), which the kernel must offer.
     *
     * @throws IllegalStateException naming the missing bits when the driver negotiated one the kernel lacks
     */
    public static long vhostFeatures(String kind, long guestFeatures, long served, long offered) {
        long wanted = guestFeatures & served;
        long missing = wanted & ~offered;
        if (missing != 0) {
            throw new IllegalStateException(String.format("the kernel's %s lacks negotiated features 0x%x (it offers 0x%x)",
                    kind, missing, offered));
        }
        return wanted;
    }

    /**
     * Starts a session over {@code mem} with the vhost {@code features} (without LOG_ALL, which follows the memory's
     * dirty logging).
     */
    public synchronized void begin(GuestMemory mem, long features) {
        if (memory != null) {
            throw new IllegalStateException(name + ": " + kind + " rings are set up already");
        }
        this.features = features;
        List<VhostFd.MemoryRegion> t = new ArrayList<>();
        for (GuestMemory.Region r : mem.regions()) {
            t.add(new VhostFd.MemoryRegion(r.guestPhysAddr(), r.size(), r.hostAddress()));
        }
        this.table = t;
        this.memory = mem;
        mem.addDirtyLogListener(logListener); // before reading the state: see GuestMemory.addDirtyLogListener
        logBase = mem.kernelLogAddress();
    }

    /**
     * Gives {@code v} (owned already) the features, the memory table, the dirty log when logging is on, and ring
     * {@code i} of it queue {@code rings[i]}: its size, its next available index (0 after an activation, the saved one
     * after a restore), its addresses, and the eventfds {@code kicks[i]}, {@code calls[i]}, {@code errs[i]}.
     */
    public synchronized void configure(VhostFd v, VirtQueue[] rings, EventFd[] kicks, EventFd[] calls, EventFd[] errs) {
        if (memory == null) {
            throw new IllegalStateException(name + ": configure before begin");
        }
        v.setFeatures(features);
        v.setMemTable(table);
        if (logBase != 0) { // LOG_ALL is checked against the memory table and the log base: after both
            v.setLogBase(logBase);
            v.setFeatures(features | 1L << VHOST_F_LOG_ALL);
        }
        entries.add(new Entry(v, rings.clone()));
        for (int i = 0; i < rings.length; i++) {
            VirtQueue q = rings[i];
            v.setVringNum(i, q.size());
            v.setVringBase(i, q.lastAvailIdx());
            setAddr(v, i, q, logBase != 0);
            v.setVringKick(i, kicks[i].fd());
            v.setVringCall(i, calls[i].fd());
            v.setVringErr(i, errs[i].fd());
        }
    }

    private static void setAddr(VhostFd v, int ring, VirtQueue q, boolean logging) {
        v.setVringAddr(ring, logging ? 1 << VHOST_VRING_F_LOG : 0, q.descHost(), q.usedHost(), q.availHost(), q.usedAddr());
    }

    /**
     * Reads where each of {@code rings} (rings 0, 1, … of {@code v}) stopped into its queue ({@link
     * VirtQueue#resumeAt}). Call once the rings are stopped: a running ring moves on.
     */
    public static void readBack(VhostFd v, VirtQueue[] rings) {
        for (int i = 0; i < rings.length; i++) {
            rings[i].resumeAt(v.getVringBase(i));
        }
    }

    /** Ends the session: stops following the memory's dirty logging and forgets the fds. Idempotent. */
    public synchronized void end() {
        if (memory != null) {
            memory.removeDirtyLogListener(logListener);
        }
        memory = null;
        entries.clear();
        table = null;
    }

    /** The features the session set (without LOG_ALL). */
    public synchronized long features() {
        return features;
    }

    /** Follows the memory's dirty logging (its listener): LOG_ALL, the log base and the used-ring log flags. */
    private synchronized void logChanged() {
        if (memory == null) {
            return;
        }
        long base = memory.kernelLogAddress();
        if (base == logBase) {
            return;
        }
        for (Entry e : entries) {
            VhostFd v = e.fd();
            if (base != 0) {
                v.setLogBase(base);
                v.setFeatures(features | 1L << VHOST_F_LOG_ALL);
            } else {
                v.setFeatures(features);
            }
            for (int i = 0; i < e.rings().length; i++) {
                setAddr(v, i, e.rings()[i], base != 0);
            }
        }
        logBase = base; // also with no fd yet: configure then starts with the current log
        log.debug("{}: {} dirty logging {}", name, kind, base != 0 ? "on" : "off");
    }

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(VhostRings.class);
}

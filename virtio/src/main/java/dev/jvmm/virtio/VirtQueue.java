package dev.jvmm.virtio;

import static dev.jvmm.virtio.GuestProtocolException.Reason.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.VmCoreException;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.state.StateCodec;
import java.io.DataOutput;
import java.io.IOException;
import java.lang.invoke.VarHandle;

/**
 * A split virtqueue (virtio 1.2 §2.7), device side. The transport configures it (size, ring addresses,
 * features); the device pops descriptor chains, does the I/O straight on the chain's host addresses and
 * returns them with {@link #addUsed}. Every guest-supplied index and address is validated: a malformed chain
 * throws {@link GuestProtocolException} and nothing outside guest RAM is read or written.
 *
 * <p>Live migration: KVM's dirty log does not see the device's writes to guest RAM (through host addresses), so the
 * queue records them with {@link GuestMemory#markDirtyHost}: its own writes to the used ring (in {@link #addUsed} and
 * the avail_event of {@link #pop}) and, with {@link #addUsed(DescriptorChain, long)}, the chain's device-writable
 * buffers. A device that writes guest RAM otherwise marks it itself. While dirty logging is off this costs one
 * volatile read per returned chain.
 *
 * <p>Not thread-safe: one device thread owns a queue.
 */
public final class VirtQueue {
    public static final int VIRTQ_DESC_F_NEXT = 1;
    public static final int VIRTQ_DESC_F_WRITE = 2;
    public static final int VIRTQ_DESC_F_INDIRECT = 4;
    public static final int VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
    public static final int VIRTQ_USED_F_NO_NOTIFY = 1;
    private static final int DESC_SIZE = 16;

    private final GuestMemory mem;
    private final int index;
    private final int maxSize;
    private final DescriptorChain chain;
    private int size;
    private long descAddr, availAddr, usedAddr;
    /** Host addresses of the three rings, resolved once by {@link #enable()} (each ring lies inside one region). */
    private long descHost, availHost, usedHost;
    private boolean ready;
    private boolean eventIdx;
    private boolean indirect;
    private int maxSegments;
    private short lastAvail;
    private short nextUsed;
    private short signalledUsed;
    private boolean signalledValid;

    /**
     * @param maxSize     the largest queue size the device offers (power of two, ≤ 32768)
     * @param maxSegments the most segments the device accepts in one chain (its SEG_MAX + headers)
     */
    public VirtQueue(GuestMemory mem, int index, int maxSize, int maxSegments) {
        if (Integer.bitCount(maxSize) != 1 || maxSize > 32768) {
            throw new IllegalArgumentException("queue size " + maxSize + " is not a power of two ≤ 32768");
        }
        this.mem = mem;
        this.index = index;
        this.maxSize = maxSize;
        this.size = maxSize;
        this.maxSegments = Math.min(maxSegments, 4096);
        this.chain = new DescriptorChain(this.maxSegments);
    }

    public int index() {
        return index;
    }

    public int maxSize() {
        return maxSize;
    }

    public int size() {
        return size;
    }

    /** Set by the driver through the transport; must be a power of two ≤ {@link #maxSize()}. */
    public void setSize(int size) {
        requireNotReady("size");
        if (size <= 0 || size > maxSize || Integer.bitCount(size) != 1) {
            throw new GuestProtocolException(BAD_INDEX, "queue " + index + ": size " + size + " is not a power of two ≤ " + maxSize);
        }
        this.size = size;
    }

    public void setAddresses(long desc, long avail, long used) {
        requireNotReady("ring addresses");
        this.descAddr = desc;
        this.availAddr = avail;
        this.usedAddr = used;
    }

    public long descAddr() {
        return descAddr;
    }

    public long availAddr() {
        return availAddr;
    }

    public long usedAddr() {
        return usedAddr;
    }

    /** Ring geometry is fixed while the queue is enabled (the rings' host addresses are resolved by enable). */
    private void requireNotReady(String what) {
        if (ready) {
            throw new IllegalStateException("queue " + index + ": " + what + " changed while the queue is enabled");
        }
    }

    /** Negotiated features that change ring behaviour. */
    public void setFeatures(boolean eventIdx, boolean indirect) {
        this.eventIdx = eventIdx;
        this.indirect = indirect;
    }

    /**
     * Enables the queue after checking that the three rings lie inside guest RAM with the alignment the spec
     * demands (16, 2 and 4 bytes).
     */
    public void enable() {
        long descLen = (long) DESC_SIZE * size;
        long availLen = 6 + 2L * size;
        long usedLen = 6 + 8L * size;
        if ((descAddr & 15) != 0 || (availAddr & 1) != 0 || (usedAddr & 3) != 0) {
            throw new GuestProtocolException(OUT_OF_BOUNDS, String.format(
                    "queue %d: misaligned rings desc=0x%x avail=0x%x used=0x%x", index, descAddr, availAddr, usedAddr));
        }
        if (!mem.contains(descAddr, descLen) || !mem.contains(availAddr, availLen) || !mem.contains(usedAddr, usedLen)) {
            throw new GuestProtocolException(OUT_OF_BOUNDS, String.format(
                    "queue %d: rings outside guest RAM desc=0x%x avail=0x%x used=0x%x size=%d", index, descAddr, availAddr,
                    usedAddr, size));
        }
        descHost = mem.hostAddress(descAddr, descLen);
        availHost = mem.hostAddress(availAddr, availLen);
        usedHost = mem.hostAddress(usedAddr, usedLen);
        ready = true;
    }

    public boolean isReady() {
        return ready;
    }

    /** Back to the reset state (device reset or queue reset). */
    public void reset() {
        ready = false;
        size = maxSize;
        descAddr = availAddr = usedAddr = 0;
        descHost = availHost = usedHost = 0;
        lastAvail = nextUsed = signalledUsed = 0;
        signalledValid = false;
        eventIdx = indirect = false;
    }

    /**
     * Writes the queue's configuration and its place in the rings: size, ring addresses, whether it is enabled,
     * the ring features, the next available index to pop, the next used index, and the EVENT_IDX bookkeeping. Call
     * with the device's thread stopped, when no popped chain is waiting for {@link #addUsed}.
     */
    public void saveState(DataOutput out) throws IOException {
        out.writeInt(size);
        out.writeLong(descAddr);
        out.writeLong(availAddr);
        out.writeLong(usedAddr);
        out.writeBoolean(ready);
        out.writeBoolean(eventIdx);
        out.writeBoolean(indirect);
        out.writeShort(lastAvail);
        out.writeShort(nextUsed);
        out.writeShort(signalledUsed);
        out.writeBoolean(signalledValid);
    }

    /**
     * Restores what {@link #saveState} wrote into a queue in its reset state, its guest RAM already restored. An
     * enabled queue is enabled again, which checks its rings against guest RAM as a driver's enable does; a size or a
     * ring outside RAM is refused naming the field, and the queue stays reset.
     */
    public void restoreState(StateCodec.Reader in) throws IOException {
        int sz = in.readInt("size");
        long desc = in.readLong("desc_addr"), avail = in.readLong("avail_addr"), used = in.readLong("used_addr");
        boolean rdy = in.readBoolean("ready");
        boolean ei = in.readBoolean("event_idx"), ind = in.readBoolean("indirect");
        short la = (short) in.readShort("next_avail"), nu = (short) in.readShort("next_used");
        short su = (short) in.readShort("signalled_used");
        boolean sv = in.readBoolean("signalled_valid");
        reset();
        try {
            setSize(sz);
        } catch (GuestProtocolException e) {
            reset();
            throw in.bad("size", e.getMessage());
        }
        setAddresses(desc, avail, used);
        setFeatures(ei, ind);
        if (rdy) {
            try {
                enable();
            } catch (GuestProtocolException e) {
                reset();
                throw in.bad("rings", e.getMessage());
            }
        }
        lastAvail = la;
        nextUsed = nu;
        signalledUsed = su;
        signalledValid = sv;
    }

    private long completed;
    private long bytesRead;
    private long bytesWritten;

    private int availIdx() {
        short idx = Native.getShort(availHost + 2);
        VarHandle.acquireFence(); // read ring entries only after the index that publishes them
        return idx & 0xffff;
    }

    /** Whether the driver has made chains available that were not popped yet. */
    public boolean hasAvailable() {
        return ready && (short) availIdx() != lastAvail;
    }

    /** How many chains the driver has made available that were not popped yet (0 when not ready). */
    public int pending() {
        if (!ready) {
            return 0;
        }
        return (availIdx() - (lastAvail & 0xffff)) & 0xffff;
    }

    /**
     * Pops the next available chain, or returns null when there is none. The returned object is reused; it
     * stays valid until the next call.
     *
     * @throws GuestProtocolException when the driver published a malformed chain; the queue is then unusable
     *         until reset, and the device should set NEEDS_RESET
     */
    public DescriptorChain pop() {
        if (!ready) {
            return null;
        }
        int avail = availIdx();
        short pending = (short) (avail - (lastAvail & 0xffff));
        if (pending == 0 && eventIdx) {
            // drained: only now ask for a kick past what we have seen (avail_event), then look again, so that a chain
            // published before the driver could see the new avail_event is not missed. While the device is busy
            // draining, avail_event stays behind and the driver does not kick for every chain it adds.
            Native.putShort(usedHost + 4 + 8L * size, lastAvail);
            markUsedRing();
            VarHandle.fullFence(); // our avail_event store must be ordered before the re-read of the avail index
            avail = availIdx();
            pending = (short) (avail - (lastAvail & 0xffff));
        }
        if (pending == 0) {
            return null;
        }
        if ((pending & 0xffff) > size) {
            throw new GuestProtocolException(BAD_INDEX, "queue " + index + ": avail idx " + avail + " ran "
                    + (pending & 0xffff) + " entries ahead of " + (lastAvail & 0xffff) + " (size " + size + ")");
        }
        int head = Native.getShort(availHost + 4 + 2L * ((lastAvail & 0xffff) % size)) & 0xffff;
        lastAvail++;
        walk(head);
        bytesRead += chain.readableBytes();
        return chain;
    }

    /**
     * What went through this queue since the device was created (a reset does not clear them): chains returned to
     * the driver, bytes the device read from the driver's buffers and bytes it wrote into them. Written by the
     * device's thread only, read by others without locking: a reader sees recent, not exact, values.
     */
    public long completedChains() {
        return completed;
    }

    public long bytesRead() {
        return bytesRead;
    }

    public long bytesWritten() {
        return bytesWritten;
    }

    private void walk(int head) {
        if (head >= size) {
            throw new GuestProtocolException(BAD_INDEX, "queue " + index + ": head index " + head + " ≥ size " + size);
        }
        chain.reset(head);
        long table = descHost; // host address of the current table; every index into it is checked against tableSize
        int tableSize = size;
        int i = head;
        int visited = 0;
        boolean inIndirect = false;
        boolean sawWritable = false;
        for (;;) {
            if (++visited > tableSize) {
                throw new GuestProtocolException(DESCRIPTOR_LOOP, "queue " + index + ": chain from head " + head
                        + " visits more than " + tableSize + " descriptors (a loop)");
            }
            long d = table + (long) DESC_SIZE * i;
            long addr = Native.getLong(d);
            int len = Native.getInt(d + 8);
            int flags = Native.getShort(d + 12) & 0xffff;
            int next = Native.getShort(d + 14) & 0xffff;
            if ((flags & VIRTQ_DESC_F_INDIRECT) != 0) {
                if (!indirect || inIndirect || (flags & VIRTQ_DESC_F_NEXT) != 0) {
                    throw new GuestProtocolException(BAD_INDIRECT, "queue " + index + ": descriptor " + i
                            + (!indirect ? " is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated"
                            : inIndirect ? " nests an indirect table" : " combines INDIRECT with NEXT"));
                }
                long tableLen = len & 0xffffffffL;
                if (tableLen == 0 || tableLen % DESC_SIZE != 0 || tableLen / DESC_SIZE > 32768) {
                    throw new GuestProtocolException(BAD_INDIRECT, "queue " + index + ": indirect table length "
                            + tableLen + " is not a positive multiple of 16");
                }
                try {
                    table = mem.hostAddress(addr, tableLen);
                } catch (VmCoreException e) {
                    throw new GuestProtocolException(OUT_OF_BOUNDS, String.format(
                            "queue %d: indirect table gpa=0x%x len=%d is outside guest RAM", index, addr, tableLen));
                }
                tableSize = (int) (tableLen / DESC_SIZE);
                i = 0;
                visited = 0;
                inIndirect = true;
                continue;
            }
            if (len == 0) {
                throw new GuestProtocolException(ZERO_LENGTH, "queue " + index + ": descriptor " + i + " has length 0");
            }
            boolean writable = (flags & VIRTQ_DESC_F_WRITE) != 0;
            if (!writable && sawWritable) {
                throw new GuestProtocolException(WRONG_DIRECTION, "queue " + index + ": device-readable descriptor "
                        + i + " follows a device-writable one");
            }
            sawWritable |= writable;
            if (chain.count() == chain.capacity()) {
                throw new GuestProtocolException(TOO_MANY_DESCRIPTORS, "queue " + index + ": chain from head " + head
                        + " has more than " + chain.capacity() + " descriptors");
            }
            long host;
            try {
                host = mem.hostAddress(addr, len & 0xffffffffL);
            } catch (VmCoreException e) {
                throw new GuestProtocolException(OUT_OF_BOUNDS, String.format(
                        "queue %d: descriptor %d buffer gpa=0x%x len=%d is outside guest RAM", index, i, addr,
                        len & 0xffffffffL));
            }
            chain.add(host, addr, len, writable);
            if ((flags & VIRTQ_DESC_F_NEXT) == 0) {
                return;
            }
            if (next >= tableSize) {
                throw new GuestProtocolException(BAD_INDEX, "queue " + index + ": descriptor " + i + " links to "
                        + next + " ≥ table size " + tableSize);
            }
            i = next;
        }
    }

    /**
     * Returns the chain with {@code head} to the driver, reporting {@code written} bytes written into it. Marks the used
     * ring dirty for migration, not the chain's buffers: a device that wrote into them marks them itself (or calls
     * {@link #addUsed(DescriptorChain, long)}).
     */
    public void addUsed(int head, long written) {
        publishUsed(head, written);
        markUsedRing();
    }

    /**
     * Returns {@code chain} (the last one {@link #pop} returned) to the driver, reporting {@code written} bytes written
     * into it, and marks every device-writable segment of it dirty for migration, whatever {@code written} says (a
     * request that failed halfway may have written more than it reports), together with the used ring. One volatile
     * read while dirty logging is off.
     */
    public void addUsed(DescriptorChain chain, long written) {
        publishUsed(chain.head(), written);
        if (mem.dirtyLogging()) {
            for (int i = chain.readableCount(); i < chain.count(); i++) {
                mem.markDirtyHost(chain.address(i), chain.length(i));
            }
            mem.markDirtyHost(usedHost, usedRingBytes());
        }
    }

    /** Records the device's writes to the used ring (elements, idx, avail_event) for migration; after the writes. */
    private void markUsedRing() {
        mem.markDirtyHost(usedHost, usedRingBytes());
    }

    private long usedRingBytes() {
        return 6 + 8L * size;
    }

    private void publishUsed(int head, long written) {
        long e = usedHost + 4 + 8L * ((nextUsed & 0xffff) % size);
        Native.putInt(e, head);
        Native.putInt(e + 4, (int) written);
        VarHandle.releaseFence(); // the element must be visible before the index that publishes it
        nextUsed++;
        Native.putShort(usedHost + 2, nextUsed);
        completed++;
        bytesWritten += written;
    }

    /**
     * Gives back the last popped chain without using it (e.g. rx had no packet), so that the next
     * {@link #pop()} returns it again.
     */
    public void undoPop() {
        lastAvail--;
        bytesRead -= chain.readableBytes();
    }

    /**
     * Whether the driver wants an interrupt for what was added since the last notification (virtio 1.2
     * §2.7.10: VIRTIO_F_EVENT_IDX's used_event, otherwise VIRTQ_AVAIL_F_NO_INTERRUPT).
     */
    public boolean needsInterrupt() {
        VarHandle.fullFence(); // our used idx store must be ordered before reading the driver's used_event/flags
        if (!eventIdx) {
            return (Native.getShort(availHost) & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
        }
        short old = signalledUsed;
        short now = nextUsed;
        boolean valid = signalledValid;
        signalledUsed = now;
        signalledValid = true;
        if (!valid) {
            return true;
        }
        short usedEvent = Native.getShort(availHost + 4 + 2L * size);
        // vring_need_event: (u16)(new - event - 1) < (u16)(new - old)
        return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }

    /** Used index as last published (for tests and debugging). */
    public int usedIdx() {
        return nextUsed & 0xffff;
    }

    public int lastAvailIdx() {
        return lastAvail & 0xffff;
    }

    /** Host address of the descriptor table (valid while the queue is enabled), for a ring served in the kernel. */
    public long descHost() {
        return descHost;
    }

    public long availHost() {
        return availHost;
    }

    public long usedHost() {
        return usedHost;
    }

    /**
     * Takes the ring back from a server outside the JVM (vhost) that stopped with {@code nextAvail} as its next
     * available index: the used index is what it last published in the used ring, and the next {@link
     * #needsInterrupt()} signals (the EVENT_IDX bookkeeping of the other server is not known here). Call with the
     * queue enabled and the other server stopped.
     */
    public void resumeAt(int nextAvail) {
        lastAvail = (short) nextAvail;
        nextUsed = Native.getShort(usedHost + 2);
        signalledValid = false;
    }
}

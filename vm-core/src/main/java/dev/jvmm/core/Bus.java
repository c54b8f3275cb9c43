package dev.jvmm.core;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An address space of devices (port I/O or MMIO) with range dispatch. Unclaimed reads return all ones and
 * unclaimed writes are dropped, as on real hardware; both are logged, rate-limited, because a guest can
 * cause them. Registration is synchronized; dispatch reads an immutable snapshot and does not allocate.
 *
 * <p>Every access that reaches a device here is a VM exit to userspace; the bus counts them per registration name
 * ({@link #exitCounts()}), and a name keeps its counts when its range moves (a BAR the guest relocates is
 * unregistered and registered again under the same name).
 */
public final class Bus {
    private static final Logger log = LoggerFactory.getLogger(Bus.class);

    /** A registered range. */
    public record Entry(long base, long length, BusDevice device, String name, Exits exits) {
        long end() {
            return base + length;
        }
    }

    /** Reads and writes that reached one registration name (each one a VM exit); safe from every vCPU thread. */
    public static final class Exits {
        private final LongAdder reads = new LongAdder();
        private final LongAdder writes = new LongAdder();

        public long reads() {
            return reads.sum();
        }

        public long writes() {
            return writes.sum();
        }
    }

    private final String name;
    private volatile TreeMap<Long, Entry> ranges = new TreeMap<>();
    private final AtomicLong unclaimed = new AtomicLong();
    private final Map<String, Exits> exits = new ConcurrentHashMap<>();

    public Bus(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    /** Claims {@code [base, base+length)} for {@code device}; overlapping claims are refused. */
    public synchronized void register(long base, long length, BusDevice device, String deviceName) {
        if (length <= 0) {
            throw new VmCoreException(VmCoreException.Reason.INVALID, name + ": empty range for " + deviceName);
        }
        Entry e = new Entry(base, length, device, deviceName, exits.computeIfAbsent(deviceName, k -> new Exits()));
        Map.Entry<Long, Entry> below = ranges.floorEntry(base + length - 1);
        if (below != null && below.getValue().end() > base) {
            throw new VmCoreException(VmCoreException.Reason.OVERLAP, String.format(
                    "%s: %s [0x%x, 0x%x) overlaps %s [0x%x, 0x%x)", name, deviceName, base, base + length,
                    below.getValue().name(), below.getValue().base(), below.getValue().end()));
        }
        TreeMap<Long, Entry> next = new TreeMap<>(ranges);
        next.put(base, e);
        ranges = next;
    }

    /** Removes the range registered at {@code base}; returns whether one was there. */
    public synchronized boolean unregister(long base) {
        if (!ranges.containsKey(base)) {
            return false;
        }
        TreeMap<Long, Entry> next = new TreeMap<>(ranges);
        next.remove(base);
        ranges = next;
        return true;
    }

    /** The entry covering {@code addr}, or null. */
    public Entry lookup(long addr) {
        Map.Entry<Long, Entry> e = ranges.floorEntry(addr);
        if (e == null || addr >= e.getValue().end()) {
            return null;
        }
        return e.getValue();
    }

    /** Dispatches a read; returns the value, or all ones (of {@code size} bytes) when unclaimed. */
    public long read(long addr, int size) {
        Entry e = lookup(addr);
        if (e == null) {
            noteUnclaimed("read", addr, size);
            return size >= 8 ? -1L : (1L << (size * 8)) - 1;
        }
        e.exits().reads.increment();
        return e.device().read(addr - e.base(), size);
    }

    /** Dispatches a write; returns false when nothing claims {@code addr}. */
    public boolean write(long addr, int size, long value) {
        Entry e = lookup(addr);
        if (e == null) {
            noteUnclaimed("write", addr, size);
            return false;
        }
        e.exits().writes.increment();
        e.device().write(addr - e.base(), size, value);
        return true;
    }

    /** Exits per registration name so far, in name order (names registered once stay, with their counts). */
    public Map<String, Exits> exitCounts() {
        return new TreeMap<>(exits);
    }

    /** How many accesses hit no device. */
    public long unclaimedCount() {
        return unclaimed.get();
    }

    private void noteUnclaimed(String op, long addr, int size) {
        long n = unclaimed.incrementAndGet();
        if (n <= 10 || Long.bitCount(n) == 1) {
            log.debug("{}: unclaimed {} of {} bytes at 0x{} ({} so far)", name, op, size, Long.toHexString(addr), n);
        }
    }
}

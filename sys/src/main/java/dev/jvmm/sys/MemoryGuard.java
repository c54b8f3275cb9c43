package dev.jvmm.sys;

import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The fuzz build's check that every native access lands in memory the VMM owns. Off unless the JVM runs with
 * {@code -Djvmm.memguard=true} (the fuzz targets and their regression runs set it): then every {@link Native} load,
 * store and copy is checked against the ranges registered here, namely each {@link Mmap} (guest RAM regions, kvm_run,
 * rings) and each buffer {@link Native} allocates, and every descriptor a virtqueue hands a device must lie inside a
 * range registered as guest RAM. A violation is an {@link Error} (a {@link Violation}), so that no
 * {@code catch (RuntimeException)} on a device's path hides it. With the property unset, {@link #ON} is a constant
 * false and the JIT removes the checks.
 */
public final class MemoryGuard {
    /** Whether the checks run (system property {@code jvmm.memguard}, read once). */
    public static final boolean ON = Boolean.getBoolean("jvmm.memguard");

    private record Range(long end, boolean guest, String owner) {
    }

    private static final ConcurrentSkipListMap<Long, Range> RANGES = new ConcurrentSkipListMap<>();

    private MemoryGuard() {
    }

    /** An access outside every registered range, or guest data outside guest RAM. */
    public static final class Violation extends Error {
        private static final long serialVersionUID = 1L;

        Violation(String message) {
            super(message);
        }
    }

    /** Registers {@code [address, address + length)} (guest RAM when {@code guest}); a no-op while off. */
    public static void register(long address, long length, boolean guest, String owner) {
        if (ON && address != 0 && length > 0) {
            RANGES.put(address, new Range(address + length, guest, owner));
        }
    }

    /** Forgets the range that starts at {@code address}; a no-op while off. */
    public static void unregister(long address) {
        if (ON) {
            RANGES.remove(address);
        }
    }

    /** Throws unless {@code [address, address + length)} lies in one registered range. */
    public static void check(long address, long length, String op) {
        Range r = find(address, length);
        if (r == null) {
            throw new Violation(String.format("%s of %d bytes at 0x%x is outside every range the VMM owns", op, length,
                    address));
        }
    }

    /** Throws unless {@code [address, address + length)} lies in one range registered as guest RAM. */
    public static void checkGuest(long address, long length, String what) {
        Range r = find(address, length);
        if (r == null || !r.guest()) {
            throw new Violation(String.format("%s: host range 0x%x+0x%x is not inside guest RAM%s", what, address,
                    length, r == null ? "" : " (it is in " + r.owner() + ")"));
        }
    }

    private static Range find(long address, long length) {
        Map.Entry<Long, Range> e = RANGES.floorEntry(address);
        if (e == null || length < 0 || address + length < address) {
            return null;
        }
        Range r = e.getValue();
        return address + length <= r.end() ? r : null;
    }
}

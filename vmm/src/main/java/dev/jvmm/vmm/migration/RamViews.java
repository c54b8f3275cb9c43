package dev.jvmm.vmm.migration;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.Native;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Direct buffers over guest RAM, for one thread (a migration's sender or receiver) to move runs of pages between RAM
 * and the connection with no copy: {@link #of} returns a buffer positioned over the run, one of a few made once per
 * region (each covers a window of up to 1 GiB plus a run), so that no buffer is made per run. The buffers must not
 * be used once the RAM is unmapped.
 */
final class RamViews {
    /** Each window starts a multiple of this into its region... */
    private static final long WINDOW = 1L << 30;
    /** ...and reaches this much past the next start, so that a run of up to a frame starting in it fits in it. */
    private static final long OVERLAP = (long) MigrationProtocol.MAX_RUN_PAGES * MigrationProtocol.PAGE;

    private final GuestMemory.Region[] regions;
    private final ByteBuffer[][] windows;

    RamViews(GuestMemory mem) {
        List<GuestMemory.Region> rs = mem.regions();
        this.regions = rs.toArray(new GuestMemory.Region[0]);
        this.windows = new ByteBuffer[regions.length][];
        for (int i = 0; i < regions.length; i++) {
            windows[i] = new ByteBuffer[(int) ((regions[i].size() + WINDOW - 1) / WINDOW)];
        }
    }

    /**
     * The {@code len} bytes of RAM at {@code gpa}, which must lie inside one region (the caller checked) and be at most
     * a frame long, as a buffer's remaining bytes.
     */
    ByteBuffer of(long gpa, int len) {
        for (int i = 0; i < regions.length; i++) {
            GuestMemory.Region r = regions[i];
            long off = gpa - r.guestPhysAddr();
            if (off < 0 || off >= r.size()) {
                continue;
            }
            if (len > OVERLAP || off + len > r.size()) {
                throw new IllegalArgumentException(String.format("0x%x+0x%x is not a run inside a RAM region", gpa, len));
            }
            int w = (int) (off / WINDOW);
            ByteBuffer b = windows[i][w];
            if (b == null) {
                long start = w * WINDOW;
                b = Native.directBuffer(r.hostAddress() + start, (int) Math.min(r.size() - start, WINDOW + OVERLAP));
                windows[i][w] = b;
            }
            int pos = (int) (off - w * WINDOW);
            b.limit(pos + len).position(pos);
            return b;
        }
        throw new IllegalArgumentException(String.format("0x%x is not in guest RAM", gpa));
    }
}

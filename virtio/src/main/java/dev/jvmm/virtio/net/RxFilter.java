package dev.jvmm.virtio.net;

import static dev.jvmm.virtio.net.VirtioNetLayout.Constants.*;

import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.state.StateCodec;
import java.io.DataOutput;
import java.io.IOException;

/**
 * The receive filter the driver programs through the control queue (virtio 1.2 §5.1.6.5.1, §5.1.6.5.2): RX modes
 * and the unicast/multicast MAC tables. Frames to our MAC and broadcast pass by default. Read on the rx thread,
 * written on the control thread (pair 0's, the same one for the first queue pair); fields are volatile.
 */
final class RxFilter {
    static final int MAX_ENTRIES = 64;
    private volatile boolean promisc = true, allMulti = true, allUni, noMulti, noUni, noBcast;
    private volatile long[] unicast = new long[0];
    private volatile long[] multicast = new long[0];

    /** Power-on state: promiscuous and all-multicast, as the spec says before the driver sets modes. */
    void reset() {
        promisc = true;
        allMulti = true;
        allUni = noMulti = noUni = noBcast = false;
        unicast = new long[0];
        multicast = new long[0];
    }

    /** Writes the modes and the tables. */
    void save(DataOutput out) throws IOException {
        for (boolean b : new boolean[] {promisc, allMulti, allUni, noMulti, noUni, noBcast}) {
            out.writeBoolean(b);
        }
        for (long[] t : new long[][] {unicast, multicast}) {
            out.writeInt(t.length);
            for (long m : t) {
                out.writeLong(m);
            }
        }
    }

    /** Reads what {@link #save} wrote; each table holds at most {@link #MAX_ENTRIES} 48-bit MACs. */
    void restore(StateCodec.Reader in) throws IOException {
        boolean[] modes = new boolean[6];
        for (int i = 0; i < modes.length; i++) {
            modes[i] = in.readBoolean("rx_mode[" + i + "]");
        }
        long[][] tables = new long[2][];
        for (int t = 0; t < 2; t++) {
            String f = t == 0 ? "unicast_table" : "multicast_table";
            tables[t] = new long[in.count(f, MAX_ENTRIES)];
            for (int i = 0; i < tables[t].length; i++) {
                tables[t][i] = in.readLong(f + "[" + i + "]");
                if ((tables[t][i] >>> 48) != 0) {
                    throw in.bad(f + "[" + i + "]", "0x" + Long.toHexString(tables[t][i]) + " is not a 48-bit MAC");
                }
            }
        }
        promisc = modes[0];
        allMulti = modes[1];
        allUni = modes[2];
        noMulti = modes[3];
        noUni = modes[4];
        noBcast = modes[5];
        unicast = tables[0];
        multicast = tables[1];
    }

    void setMode(int cmd, boolean on) {
        switch (cmd) {
            case VIRTIO_NET_CTRL_RX_PROMISC -> promisc = on;
            case VIRTIO_NET_CTRL_RX_ALLMULTI -> allMulti = on;
            case VIRTIO_NET_CTRL_RX_ALLUNI -> allUni = on;
            case VIRTIO_NET_CTRL_RX_NOMULTI -> noMulti = on;
            case VIRTIO_NET_CTRL_RX_NOUNI -> noUni = on;
            default -> noBcast = on;
        }
    }

    /** Parses the two tables (le32 entries, then entries × 6 bytes, twice). */
    boolean setTables(NativeBuffer b, int off, int len) {
        if (len < 8) {
            return false;
        }
        int nu = b.getInt(off);
        if (nu < 0 || nu > MAX_ENTRIES || 4 + 6L * nu + 4 > len) {
            return false;
        }
        int p = off + 4;
        long[] u = new long[nu];
        for (int i = 0; i < nu; i++, p += 6) {
            u[i] = macAt(b.address() + p);
        }
        int nm = b.getInt(p);
        p += 4;
        if (nm < 0 || nm > MAX_ENTRIES || p - off + 6L * nm != len) {
            return false;
        }
        long[] m = new long[nm];
        for (int i = 0; i < nm; i++, p += 6) {
            m[i] = macAt(b.address() + p);
        }
        unicast = u;
        multicast = m;
        return true;
    }

    private static long macAt(long addr) {
        long v = 0;
        for (int i = 0; i < 6; i++) {
            v = v << 8 | (Native.getByte(addr + i) & 0xff);
        }
        return v;
    }

    /** Whether every frame passes (promiscuous mode): then {@link #accept} need not be asked. */
    boolean acceptsAll() {
        return promisc;
    }

    /**
     * Whether a frame whose destination MAC is {@code dst} (its 6 bytes big-endian, as the frame holds them) is for
     * the guest. The caller reads the MAC from wherever the frame landed (an rx buffer's first descriptor may hold only
     * the virtio-net header, the frame then starts in the next descriptor or chain).
     */
    boolean accept(long dst, byte[] ourMac) {
        if (promisc) {
            return true;
        }
        if (dst == 0xffff_ffff_ffffL) {
            return !noBcast;
        }
        if ((dst >>> 40 & 1) != 0) {
            if (noMulti) {
                return false;
            }
            if (allMulti) {
                return true;
            }
            for (long m : multicast) {
                if (m == dst) {
                    return true;
                }
            }
            return false;
        }
        if (noUni) {
            return false;
        }
        if (allUni) {
            return true;
        }
        long ours = 0;
        for (byte x : ourMac) {
            ours = ours << 8 | (x & 0xff);
        }
        if (dst == ours) {
            return true;
        }
        for (long u : unicast) {
            if (u == dst) {
                return true;
            }
        }
        return false;
    }
}

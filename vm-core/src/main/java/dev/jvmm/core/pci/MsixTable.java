package dev.jvmm.core.pci;

import dev.jvmm.core.irq.MsiInterrupt;
import dev.jvmm.sys.state.StateCodec;
import java.io.DataOutput;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An emulated MSI-X table and pending-bit array (PCI 3.0 §6.8.2): {@code n} 16-byte entries (message address
 * low/high, message data, vector control with the per-vector mask bit) and one pending bit per vector. The
 * guest's accesses are trapped (never mapped), validated — a 4- or 8-byte naturally aligned access inside the
 * table — and anything else is ignored and logged, rate-limited.
 *
 * <p>Delivery: each vector is bound to an {@link MsiInterrupt} (an irqfd). {@link #signal(int)} triggers it
 * when MSI-X is enabled and neither the function nor the vector is masked; otherwise the pending bit is set
 * and the interrupt is sent when the guest unmasks (§6.8.3.5). The vector's KVM route follows what the guest
 * programmed, updated when the vector is unmasked with a changed message.
 *
 * <p>A passed-through device signals its vectors' eventfds itself, never through {@link #signal(int)}. For such a
 * table ({@link #deviceSignalled()}), a vector that is not deliverable (MSI-X disabled, function or vector masked)
 * has its interrupt held ({@link MsiInterrupt#hold}): the device's signals wait in the eventfd, a PBA read reports
 * them as pending, and unmasking delivers one, as the PCI spec asks of a masked vector.
 *
 * <p>Thread-safe: device threads signal while vCPU threads write the table; both hold this object's lock for
 * a few field accesses, so a mask and a concurrent signal can never lose the interrupt.
 */
public final class MsixTable {
    private static final Logger log = LoggerFactory.getLogger(MsixTable.class);
    public static final int ENTRY_SIZE = 16;
    public static final int MAX_VECTORS = 2048;
    /** Vector control bit 0. */
    public static final int VECTOR_MASKED = 1;

    private final String owner;
    private final int vectors;
    private final int[] addrLo, addrHi, data, control;
    private final long[] pending;
    private final boolean[] routed;
    private final long[] routedAddr;
    private final int[] routedData;
    private final MsiInterrupt[] sinks;
    private boolean enabled;
    private boolean functionMasked;
    private final AtomicLong rejected = new AtomicLong();
    private boolean deviceSignalled;
    /** Device-signalled tables: whether vector v's interrupt is held now. */
    private final boolean[] held;

    /** A table whose vectors a device signals directly (VFIO): masks hold the interrupt, see the class comment. */
    public static MsixTable deviceSignalled(String owner, int vectors) {
        MsixTable t = new MsixTable(owner, vectors);
        t.deviceSignalled = true;
        return t;
    }

    public boolean deviceSignalled() {
        return deviceSignalled;
    }

    public MsixTable(String owner, int vectors) {
        if (vectors < 1 || vectors > MAX_VECTORS) {
            throw new IllegalArgumentException(owner + ": MSI-X table size " + vectors + " must be 1.." + MAX_VECTORS);
        }
        this.owner = owner;
        this.vectors = vectors;
        addrLo = new int[vectors];
        addrHi = new int[vectors];
        data = new int[vectors];
        control = new int[vectors];
        pending = new long[(vectors + 63) / 64];
        routed = new boolean[vectors];
        routedAddr = new long[vectors];
        routedData = new int[vectors];
        sinks = new MsiInterrupt[vectors];
        held = new boolean[vectors];
        reset();
    }

    public int vectors() {
        return vectors;
    }

    /** Table size in bytes. */
    public long tableSize() {
        return (long) vectors * ENTRY_SIZE;
    }

    /** PBA size in bytes (whole qwords). */
    public long pbaSize() {
        return 8L * pending.length;
    }

    /** Binds {@code vector} to the interrupt that delivers it. */
    public synchronized void bind(int vector, MsiInterrupt interrupt) {
        sinks[vector] = interrupt;
        routed[vector] = false;
        held[vector] = false;
        updateRoute(vector);
        syncHold(vector);
    }

    /** Back to the power-on state: every vector masked, messages zero, nothing pending, MSI-X disabled. */
    public synchronized void reset() {
        for (int i = 0; i < vectors; i++) {
            addrLo[i] = addrHi[i] = data[i] = 0;
            control[i] = VECTOR_MASKED;
        }
        java.util.Arrays.fill(pending, 0);
        enabled = false;
        functionMasked = false;
        for (int i = 0; i < vectors; i++) {
            syncHold(i);
        }
    }

    /** Whether vector v can be delivered now: MSI-X enabled, neither function nor vector masked. */
    private boolean deliverable(int v) {
        return enabled && !functionMasked && (control[v] & VECTOR_MASKED) == 0;
    }

    /** Device-signalled tables: holds a vector's interrupt exactly while it is not deliverable. */
    private void syncHold(int v) {
        if (!deviceSignalled || sinks[v] == null || held[v] == !deliverable(v)) {
            return;
        }
        held[v] = !deliverable(v);
        sinks[v].hold(held[v]);
    }

    public synchronized boolean enabled() {
        return enabled;
    }

    public synchronized boolean functionMasked() {
        return functionMasked;
    }

    public synchronized boolean masked(int vector) {
        return functionMasked || (control[vector] & VECTOR_MASKED) != 0;
    }

    public synchronized boolean isPending(int vector) {
        return (pending[vector >>> 6] & (1L << vector)) != 0
                || (deviceSignalled && held[vector] && sinks[vector].heldSignal());
    }

    /** The message address the guest programmed into {@code vector}. */
    public synchronized long address(int vector) {
        return (addrHi[vector] & 0xffff_ffffL) << 32 | (addrLo[vector] & 0xffff_ffffL);
    }

    public synchronized int data(int vector) {
        return data[vector];
    }

    /** The MSI-X Enable and Function Mask bits of Message Control changed (a config-space write). */
    public synchronized void setControl(boolean enable, boolean mask) {
        boolean wasDeliverable = enabled && !functionMasked;
        enabled = enable;
        functionMasked = mask;
        if (enabled && !functionMasked && !wasDeliverable) {
            for (int v = 0; v < vectors; v++) {
                updateRoute(v);
                deliverPending(v);
            }
        }
        for (int v = 0; v < vectors; v++) {
            syncHold(v); // after the routes: a released vector's held signal is delivered on its new route
        }
    }

    /**
     * Raises {@code vector}. Returns false when MSI-X is disabled (the caller may use INTx); a masked vector
     * becomes pending and counts as handled.
     */
    public synchronized boolean signal(int vector) {
        if (!enabled || vector < 0 || vector >= vectors) {
            return false;
        }
        if (functionMasked || (control[vector] & VECTOR_MASKED) != 0) {
            pending[vector >>> 6] |= 1L << vector;
            return true;
        }
        MsiInterrupt s = sinks[vector];
        if (s != null) {
            s.trigger();
        }
        return true;
    }

    /** A guest read of the table at {@code offset}; invalid accesses read all ones. */
    public synchronized long readTable(long offset, int size) {
        if (!validAccess(offset, size, tableSize())) {
            reject("read", offset, size, "table");
            return size >= 8 ? -1L : (1L << (8 * size)) - 1;
        }
        if (size == 8) {
            return (dword(offset) & 0xffff_ffffL) | (dword(offset + 4) & 0xffff_ffffL) << 32;
        }
        return dword(offset) & 0xffff_ffffL;
    }

    private int dword(long offset) {
        int v = (int) (offset / ENTRY_SIZE);
        return switch ((int) (offset % ENTRY_SIZE)) {
            case 0 -> addrLo[v];
            case 4 -> addrHi[v];
            case 8 -> data[v];
            default -> control[v];
        };
    }

    /** A guest write to the table; invalid accesses are ignored (and logged, rate-limited). */
    public synchronized void writeTable(long offset, int size, long value) {
        if (!validAccess(offset, size, tableSize())) {
            reject("write", offset, size, "table");
            return;
        }
        writeDword(offset, (int) value);
        if (size == 8) {
            writeDword(offset + 4, (int) (value >>> 32));
        }
    }

    private void writeDword(long offset, int value) {
        int v = (int) (offset / ENTRY_SIZE);
        switch ((int) (offset % ENTRY_SIZE)) {
            case 0 -> addrLo[v] = value & ~0x3; // the message address is dword aligned; bits 1:0 are reserved
            case 4 -> addrHi[v] = value;
            case 8 -> data[v] = value;
            default -> {
                boolean wasMasked = (control[v] & VECTOR_MASKED) != 0;
                control[v] = value & VECTOR_MASKED; // other bits are reserved
                if (wasMasked && (control[v] & VECTOR_MASKED) == 0) {
                    updateRoute(v);
                    deliverPending(v);
                }
                syncHold(v);
                return;
            }
        }
        if ((control[v] & VECTOR_MASKED) == 0) {
            updateRoute(v); // a message changed under an unmasked vector (allowed, though drivers avoid it)
        }
    }

    /** A guest read of the pending-bit array (read-only). */
    public synchronized long readPba(long offset, int size) {
        if (!validAccess(offset, size, pbaSize())) {
            reject("read", offset, size, "PBA");
            return size >= 8 ? -1L : (1L << (8 * size)) - 1;
        }
        int word = (int) (offset >>> 3);
        long q = pending[word];
        for (int v = word * 64; deviceSignalled && v < Math.min(vectors, word * 64 + 64); v++) {
            if (held[v] && sinks[v].heldSignal()) {
                q |= 1L << (v & 63); // the device's own pending state: it signalled while the vector was masked
            }
        }
        return size == 8 ? q : (q >>> (8 * (offset & 7))) & 0xffff_ffffL;
    }

    /** Writes to the PBA are ignored (it is read-only), but validated and counted like any other access. */
    public void writePba(long offset, int size, long value) {
        reject("write", offset, size, "PBA (read-only)");
    }

    /** "MSIX". */
    private static final int STATE_MAGIC = 0x4D534958;

    /**
     * Writes the table and the pending bits (format 1). Enable and function mask are not here: they live in the
     * capability's Message Control register, which the function's config space carries.
     */
    public synchronized void saveState(DataOutput out) throws IOException {
        StateCodec.header(out, STATE_MAGIC, 1);
        out.writeInt(vectors);
        for (int v = 0; v < vectors; v++) {
            out.writeInt(addrLo[v]);
            out.writeInt(addrHi[v]);
            out.writeInt(data[v]);
            out.writeInt(control[v]);
        }
        for (long p : pending) {
            out.writeLong(p);
        }
    }

    /**
     * Restores what {@link #saveState} wrote into a table of the same size that is disabled (as built, before the
     * config space is restored: its Message Control then enables the table through {@link #setControl}, which routes
     * the unmasked vectors and delivers what is pending).
     */
    public synchronized void restoreState(StateCodec.Reader in) throws IOException {
        in.header(STATE_MAGIC, 1);
        int n = in.readInt("msix.vectors");
        if (n != vectors) {
            throw in.bad("msix.vectors", n + " vectors saved, this table has " + vectors);
        }
        int[][] saved = new int[vectors][4];
        for (int v = 0; v < vectors; v++) {
            for (int i = 0; i < 4; i++) {
                saved[v][i] = in.readInt("msix.entry[" + v + "]");
            }
            if ((saved[v][0] & 0x3) != 0 || (saved[v][3] & ~VECTOR_MASKED) != 0) {
                throw in.bad("msix.entry[" + v + "]", "reserved bits set (address low 0x"
                        + Integer.toHexString(saved[v][0]) + ", vector control 0x" + Integer.toHexString(saved[v][3]) + ")");
            }
        }
        long[] p = new long[pending.length];
        for (int w = 0; w < p.length; w++) {
            p[w] = in.readLong("msix.pending[" + w + "]");
        }
        if (vectors % 64 != 0 && (p[p.length - 1] & -(1L << (vectors % 64))) != 0) {
            throw in.bad("msix.pending", "bits set beyond vector " + (vectors - 1));
        }
        enabled = false;
        functionMasked = false;
        for (int v = 0; v < vectors; v++) {
            addrLo[v] = saved[v][0];
            addrHi[v] = saved[v][1];
            data[v] = saved[v][2];
            control[v] = saved[v][3];
            routed[v] = false;
            syncHold(v);
        }
        System.arraycopy(p, 0, pending, 0, p.length);
    }

    /** Guest accesses that were ignored. */
    public long rejectedAccesses() {
        return rejected.get();
    }

    private static boolean validAccess(long offset, int size, long limit) {
        return (size == 4 || size == 8) && (offset & (size - 1)) == 0 && offset >= 0 && offset + size <= limit;
    }

    private void reject(String op, long offset, int size, String what) {
        long n = rejected.incrementAndGet();
        if (n <= 10 || Long.bitCount(n) == 1) {
            log.warn("{}: ignored MSI-X {} {} of {} bytes at offset 0x{} ({} so far)", owner, what, op, size,
                    Long.toHexString(offset), n);
        }
    }

    private void deliverPending(int v) {
        if (enabled && !functionMasked && (control[v] & VECTOR_MASKED) == 0 && (pending[v >>> 6] & (1L << v)) != 0) {
            pending[v >>> 6] &= ~(1L << v);
            if (sinks[v] != null) {
                sinks[v].trigger();
            }
        }
    }

    private void updateRoute(int v) {
        MsiInterrupt s = sinks[v];
        if (s == null || !enabled || (control[v] & VECTOR_MASKED) != 0) {
            return; // a masked vector's message may be half-written; it is routed when unmasked
        }
        long a = address(v);
        if (routed[v] && routedAddr[v] == a && routedData[v] == data[v]) {
            return;
        }
        try {
            s.route(a, data[v]);
            routed[v] = true;
            routedAddr[v] = a;
            routedData[v] = data[v];
        } catch (RuntimeException e) {
            // the guest programmed a message KVM refuses: the vector stays unrouted, the VMM keeps going
            long n = rejected.incrementAndGet();
            if (n <= 10 || Long.bitCount(n) == 1) {
                log.warn("{}: MSI-X vector {} route addr=0x{} data=0x{} refused: {}", owner, v, Long.toHexString(a),
                        Integer.toHexString(data[v]), e.toString());
            }
        }
    }
}

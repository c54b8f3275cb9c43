package dev.jvmm.irq;

import java.util.BitSet;

/**
 * Hands out GSIs from {@code [first, limit)}. GSIs below {@code first} are the irqchip's legacy lines
 * (0–23: PIC and IOAPIC pins) and are never handed out.
 */
public final class GsiAllocator {
    private final int first;
    private final int limit;
    private final BitSet used = new BitSet();

    public GsiAllocator(int first, int limit) {
        if (first < 0 || limit <= first) {
            throw new IllegalArgumentException("GSI range [" + first + ", " + limit + ")");
        }
        this.first = first;
        this.limit = limit;
    }

    public synchronized int allocate() {
        int g = used.nextClearBit(first);
        if (g >= limit) {
            throw new IrqRoutingException(IrqRoutingException.Reason.GSI_EXHAUSTED,
                    "all " + (limit - first) + " routable GSIs [" + first + ", " + limit + ") are in use");
        }
        used.set(g);
        return g;
    }

    public synchronized void free(int gsi) {
        if (gsi < first || gsi >= limit || !used.get(gsi)) {
            throw new IrqRoutingException(IrqRoutingException.Reason.INVALID_GSI, "GSI " + gsi + " is not allocated");
        }
        used.clear(gsi);
    }

    public synchronized int inUse() {
        return used.cardinality();
    }

    public int first() {
        return first;
    }

    public int limit() {
        return limit;
    }
}

package dev.jvmm.core.pci;

/**
 * The MSI-X capability structure (ID 0x11, PCI 3.0 §6.8.2) of a {@link PciFunction}, tied to its
 * {@link MsixTable}. Layout: ID, next, Message Control (table size − 1 in bits 10:0, Function Mask bit 14, MSI-X
 * Enable bit 15 — only those two are guest-writable), Table Offset/BIR, PBA Offset/BIR. The function forwards
 * config writes to {@link #configWritten} so that enable and mask reach the table.
 */
public final class MsixCapability {
    public static final int CAP_ID = 0x11;
    public static final int MESSAGE_CONTROL = 2;
    public static final int TABLE_OFFSET = 4;
    public static final int PBA_OFFSET = 8;
    public static final int CONTROL_ENABLE = 0x8000;
    public static final int CONTROL_FUNCTION_MASK = 0x4000;

    private final PciConfigSpace config;
    private final MsixTable table;
    private final int offset;
    private final int bar;
    private final long tableOffset;
    private final long pbaOffset;

    private MsixCapability(PciConfigSpace config, MsixTable table, int offset, int bar, long tableOffset, long pbaOffset) {
        this.config = config;
        this.table = table;
        this.offset = offset;
        this.bar = bar;
        this.tableOffset = tableOffset;
        this.pbaOffset = pbaOffset;
    }

    /**
     * Adds the capability to {@code function}'s config space; the table lives in BAR {@code bar} at
     * {@code tableOffset} and the PBA at {@code pbaOffset} (both 8-byte aligned, inside the BAR).
     */
    public static MsixCapability install(PciFunction function, MsixTable table, int bar, long tableOffset, long pbaOffset) {
        if ((tableOffset & 7) != 0 || (pbaOffset & 7) != 0 || bar < 0 || bar > 5) {
            throw new IllegalArgumentException(function.name() + ": MSI-X table/PBA offsets must be 8-byte aligned in BAR 0..5");
        }
        byte[] body = new byte[12];
        int ctl = table.vectors() - 1;
        body[2] = (byte) ctl;
        body[3] = (byte) (ctl >>> 8);
        putInt(body, 4, (int) tableOffset | bar);
        putInt(body, 8, (int) pbaOffset | bar);
        byte[] mask = new byte[12];
        mask[3] = (byte) ((CONTROL_ENABLE | CONTROL_FUNCTION_MASK) >>> 8);
        int off = function.config().addCapability(CAP_ID, body, mask);
        return new MsixCapability(function.config(), table, off, bar, tableOffset, pbaOffset);
    }

    private static void putInt(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    /** Offset of the capability in config space. */
    public int offset() {
        return offset;
    }

    public MsixTable table() {
        return table;
    }

    public int bar() {
        return bar;
    }

    public long tableOffset() {
        return tableOffset;
    }

    public long pbaOffset() {
        return pbaOffset;
    }

    /** To be called after every config write; picks up Message Control changes. */
    public void configWritten(int writeOffset, int size) {
        int ctl = offset + MESSAGE_CONTROL;
        if (writeOffset < ctl + 2 && writeOffset + size > ctl) {
            int v = config.get(ctl, 2);
            table.setControl((v & CONTROL_ENABLE) != 0, (v & CONTROL_FUNCTION_MASK) != 0);
        }
    }

    /** Whether {@code barOffset} in the BAR falls in the table or the PBA. */
    public boolean claims(long barOffset) {
        return (barOffset >= tableOffset && barOffset < tableOffset + table.tableSize())
                || (barOffset >= pbaOffset && barOffset < pbaOffset + table.pbaSize());
    }

    /** A BAR read inside {@link #claims} range. */
    public long read(long barOffset, int size) {
        if (barOffset >= tableOffset && barOffset < tableOffset + table.tableSize()) {
            return table.readTable(barOffset - tableOffset, size);
        }
        return table.readPba(barOffset - pbaOffset, size);
    }

    public void write(long barOffset, int size, long value) {
        if (barOffset >= tableOffset && barOffset < tableOffset + table.tableSize()) {
            table.writeTable(barOffset - tableOffset, size, value);
        } else {
            table.writePba(barOffset - pbaOffset, size, value);
        }
    }
}

package dev.jvmm.core.pci;

/**
 * An emulated MSI capability (ID 0x05, PCI 3.0 §6.8.1) in the 64-bit layout with per-vector masking: Message
 * Control (Enable bit 0; Multiple Message Capable bits 3:1, read-only; Multiple Message Enable bits 6:4;
 * 64-bit bit 7 and Per-Vector Masking bit 8, read-only set), Message Address (low, dword aligned; high), Message Data
 * (16 bits), Mask Bits and Pending Bits (read-only for the guest, set by the device model with
 * {@link #setPending}). The function forwards config writes to {@link #configWritten}, which says whether anything
 * the interrupt plumbing follows (enable, vector count, message, masks) may have changed.
 */
public final class MsiCapability {
    public static final int CAP_ID = 0x05;
    public static final int CONTROL = 2;
    public static final int ADDRESS_LO = 4;
    public static final int ADDRESS_HI = 8;
    public static final int DATA = 0xC;
    public static final int MASK = 0x10;
    public static final int PENDING = 0x14;
    public static final int CONTROL_ENABLE = 1;
    public static final int CONTROL_64BIT = 0x80;
    public static final int CONTROL_PER_VECTOR_MASK = 0x100;
    private static final int SIZE = 0x18;

    private final PciConfigSpace config;
    private final int offset;
    private final int log2Capable;

    private MsiCapability(PciConfigSpace config, int offset, int log2Capable) {
        this.config = config;
        this.offset = offset;
        this.log2Capable = log2Capable;
    }

    /** Adds the capability to {@code function}, able to carry {@code 1 << log2Capable} vectors (0..5). */
    public static MsiCapability install(PciFunction function, int log2Capable) {
        if (log2Capable < 0 || log2Capable > 5) {
            throw new IllegalArgumentException(function.name() + ": MSI can carry 1..32 vectors, not 2^" + log2Capable);
        }
        byte[] body = new byte[SIZE];
        int ctl = log2Capable << 1 | CONTROL_64BIT | CONTROL_PER_VECTOR_MASK;
        body[CONTROL] = (byte) ctl;
        body[CONTROL + 1] = (byte) (ctl >>> 8);
        byte[] w = new byte[SIZE];
        w[CONTROL] = (byte) (CONTROL_ENABLE | 0x70);
        w[ADDRESS_LO] = (byte) 0xfc;
        for (int i = 1; i < 4; i++) {
            w[ADDRESS_LO + i] = (byte) 0xff;
            w[ADDRESS_HI + i] = (byte) 0xff;
        }
        w[ADDRESS_HI] = (byte) 0xff;
        w[DATA] = (byte) 0xff;
        w[DATA + 1] = (byte) 0xff;
        int vectors = 1 << log2Capable;
        for (int i = 0; i < 4; i++) {
            w[MASK + i] = (byte) (vectors >= 32 ? 0xff : ((1L << vectors) - 1) >>> (8 * i));
        }
        int off = function.config().addCapability(CAP_ID, body, w);
        return new MsiCapability(function.config(), off, log2Capable);
    }

    public int offset() {
        return offset;
    }

    public boolean enabled() {
        return (config.get(offset + CONTROL, 2) & CONTROL_ENABLE) != 0;
    }

    /** Vectors the guest enabled: {@code 2^min(MME, MMC)} (a larger MME than the function can carry is clipped). */
    public int vectors() {
        int mme = (config.get(offset + CONTROL, 2) >>> 4) & 7;
        return 1 << Math.min(mme, log2Capable);
    }

    public int capableVectors() {
        return 1 << log2Capable;
    }

    public long address() {
        return (config.get(offset + ADDRESS_HI, 4) & 0xffff_ffffL) << 32 | (config.get(offset + ADDRESS_LO, 4) & 0xffff_ffffL);
    }

    /** The message data of vector {@code v}: the low {@code log2(vectors())} bits of the data carry the vector (§6.8.1.5). */
    public int data(int v) {
        int d = config.get(offset + DATA, 2);
        return (d & ~(vectors() - 1)) | v;
    }

    public boolean masked(int v) {
        return (config.get(offset + MASK, 4) & (1 << v)) != 0;
    }

    /** Sets the Pending Bits register (read-only for the guest). */
    public void setPending(int bits) {
        config.set(offset + PENDING, 4, bits);
    }

    /** Whether a config write at {@code writeOffset} touched this capability. */
    public boolean configWritten(int writeOffset, int size) {
        return writeOffset < offset + SIZE && writeOffset + size > offset;
    }
}

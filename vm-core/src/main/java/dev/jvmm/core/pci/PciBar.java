package dev.jvmm.core.pci;

/**
 * One base address register as the device declares it: kind, size (a power of two, at least 16 bytes for
 * memory and 4 for I/O), and whether it is prefetchable. The address the guest (or the VMM) programs lives in
 * config space; {@link PciFunction#barAddress(int)} reads it back.
 */
public record PciBar(int index, Kind kind, long size, boolean prefetchable) {
    /** BAR types (PCI Local Bus 3.0 §6.2.5.1). */
    public enum Kind {
        /** I/O space; bit 0 set. */
        IO,
        /** 32-bit memory; type 00. */
        MEM32,
        /** 64-bit memory; type 10, uses this register and the next. */
        MEM64
    }

    public PciBar {
        if (index < 0 || index > 5 || (kind == Kind.MEM64 && index == 5)) {
            throw new IllegalArgumentException("BAR index " + index + " is not valid for " + kind);
        }
        long min = kind == Kind.IO ? 4 : 16;
        if (size < min || Long.bitCount(size) != 1 || (kind != Kind.MEM64 && size > 0x8000_0000L)) {
            throw new IllegalArgumentException("BAR" + index + ": size 0x" + Long.toHexString(size)
                    + " must be a power of two of at least " + min + " bytes" + (kind == Kind.MEM64 ? "" : " and ≤ 2 GiB"));
        }
        if (kind == Kind.IO && prefetchable) {
            throw new IllegalArgumentException("BAR" + index + ": an I/O BAR cannot be prefetchable");
        }
    }

    /** The read-only low bits of the BAR register (space indicator, type, prefetchable). */
    int typeBits() {
        return switch (kind) {
            case IO -> 0x1;
            case MEM32 -> prefetchable ? 0x8 : 0x0;
            case MEM64 -> 0x4 | (prefetchable ? 0x8 : 0x0);
        };
    }

    public boolean isMemory() {
        return kind != Kind.IO;
    }
}

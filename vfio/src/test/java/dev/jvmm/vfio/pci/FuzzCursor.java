package dev.jvmm.vfio.pci;

/**
 * Reads a fuzz input front to back, little-endian; past the end every read is 0, so that any input is a complete
 * description (a short one is a device and a sequence with zeros in the rest). Kept sequential, unlike Jazzer's
 * {@code FuzzedDataProvider}, so that hand-written seeds ({@link VfioPciSeeds}) read as what they describe.
 */
final class FuzzCursor {
    private final byte[] data;
    private int at;

    FuzzCursor(byte[] data) {
        this.data = data;
    }

    boolean more() {
        return at < data.length;
    }

    int u8() {
        return at < data.length ? data[at++] & 0xff : 0;
    }

    int u16() {
        return u8() | u8() << 8;
    }

    int u32() {
        return u16() | u16() << 16;
    }

    long u64() {
        return (u32() & 0xffff_ffffL) | (long) u32() << 32;
    }
}

package dev.jvmm.core;

/**
 * A device on a PIO or MMIO {@link Bus}. Offsets are relative to the device's registered base.
 * Accesses are 1, 2, 4 or 8 bytes; values are little-endian and zero-extended.
 */
public interface BusDevice {
    long read(long offset, int size);

    void write(long offset, int size, long value);
}

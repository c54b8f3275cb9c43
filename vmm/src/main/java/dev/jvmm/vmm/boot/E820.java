package dev.jvmm.vmm.boot;

import java.util.ArrayList;
import java.util.List;

/**
 * The e820 memory map handed to the guest (boot_params.e820_table, or the PVH memmap): usable RAM
 * {@code [0, 0x9fc00)}, reserved to 1 MiB (EBDA, ACPI tables), RAM from 1 MiB, the ECAM window reserved (Linux
 * checks that MMCONFIG is reserved before it uses it), and RAM above 4 GiB.
 */
public final class E820 {
    public static final int RAM = 1;
    public static final int RESERVED = 2;
    /** The most entries boot_params can hold. */
    public static final int MAX_ENTRIES = 128;

    public record Entry(long addr, long size, int type) {
        public long end() {
            return addr + size;
        }
    }

    private E820() {
    }

    public static List<Entry> build(Layout layout) {
        List<Entry> e = new ArrayList<>();
        e.add(new Entry(0, Layout.EBDA_START, RAM));
        e.add(new Entry(Layout.EBDA_START, Layout.HIGH_MEMORY - Layout.EBDA_START, RESERVED));
        e.add(new Entry(Layout.HIGH_MEMORY, layout.lowRamEnd() - Layout.HIGH_MEMORY, RAM));
        e.add(new Entry(Layout.ECAM_START, Layout.ECAM_SIZE, RESERVED));
        if (layout.memory() > Layout.LOW_RAM_END) {
            e.add(new Entry(Layout.FOUR_GIB, layout.memory() - Layout.LOW_RAM_END, RAM));
        }
        return e;
    }
}

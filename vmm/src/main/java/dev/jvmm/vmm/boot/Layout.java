package dev.jvmm.vmm.boot;

import java.util.ArrayList;
import java.util.List;

/**
 * Guest-physical memory layout (x86-64), in the Firecracker / Cloud Hypervisor style:
 *
 * <pre>
 * 0x0000_0500  GDT (4 entries)           0x0000_0520  IDT (empty)
 * 0x0000_6000  PVH hvm_start_info        0x0000_7000  zero page (boot_params)
 * 0x0000_8ff0  boot stack top            0x0000_9000  PML4, 0xa000 PDPT, 0xb000-0xe000 PDs (4 GiB identity map)
 * 0x0002_0000  kernel command line       0x0009_fc00  reserved (EBDA) up to 1 MiB
 * 0x000e_0000  ACPI tables (RSDP first, found by the EBDA scan too)   0x000f_fff0  reset-vector stub (F000:FFF0)
 * 0x0010_0000  kernel (protected-mode part of the bzImage), then initrd placed high
 * RAM up to min(memory, 3 GiB); the rest of RAM from 4 GiB
 * 0xc000_0000  MMIO32 window (512 MiB, for BARs)      0xe000_0000  ECAM, 256 MiB (buses 0-255)
 * 0xfec0_0000  IOAPIC     0xfee0_0000  LAPIC     0xfffb_c000  EPT identity map page, 0xfffb_d000 TSS (3 pages)
 * MMIO64 window: 64 GiB from the first 1 GiB boundary above RAM (and above 4 GiB)
 * </pre>
 */
public final class Layout {
    public static final long GDT = 0x500;
    public static final long IDT = 0x520;
    public static final long PVH_START_INFO = 0x6000;
    public static final long ZERO_PAGE = 0x7000;
    public static final long BOOT_STACK = 0x8ff0;
    public static final long PML4 = 0x9000;
    public static final long PDPT = 0xa000;
    public static final long PD = 0xb000;
    public static final long CMDLINE = 0x20000;
    public static final int CMDLINE_MAX = 0x10000;
    public static final long EBDA_START = 0x9fc00;
    public static final long ACPI_START = 0xe0000;
    /** ACPI tables end below the reset vector. */
    public static final long ACPI_END = 0xffff0;
    /** F000:FFF0, where a PC's firmware starts: see {@link CpuBoot#resetVectorCode}. */
    public static final long BIOS_RESET_VECTOR = 0xffff0;
    public static final long HIGH_MEMORY = 0x100000;
    public static final long KERNEL_LOAD = 0x100000;

    public static final long MMIO32_START = 0xc000_0000L;
    public static final long MMIO32_SIZE = 0x2000_0000L;
    public static final long ECAM_START = 0xe000_0000L;
    public static final long ECAM_SIZE = 0x1000_0000L;
    public static final long IOAPIC = 0xfec0_0000L;
    public static final long LAPIC = 0xfee0_0000L;
    public static final long IDENTITY_MAP = 0xfffb_c000L;
    public static final long TSS = 0xfffb_d000L;
    /** End of RAM below the 32-bit hole. */
    public static final long LOW_RAM_END = MMIO32_START;
    public static final long FOUR_GIB = 0x1_0000_0000L;
    public static final long MMIO64_SIZE = 64L << 30;

    /** A guest RAM range. */
    public record Ram(long start, long size) {
        public long end() {
            return start + size;
        }
    }

    private final long memory;

    public Layout(long memory) {
        this.memory = memory;
    }

    public long memory() {
        return memory;
    }

    /** RAM ranges: below the hole, and the remainder from 4 GiB. */
    public List<Ram> ram() {
        List<Ram> r = new ArrayList<>();
        r.add(new Ram(0, Math.min(memory, LOW_RAM_END)));
        if (memory > LOW_RAM_END) {
            r.add(new Ram(FOUR_GIB, memory - LOW_RAM_END));
        }
        return r;
    }

    /** Top of RAM below 4 GiB. */
    public long lowRamEnd() {
        return Math.min(memory, LOW_RAM_END);
    }

    public long mmio64Start() {
        long top = memory > LOW_RAM_END ? FOUR_GIB + memory - LOW_RAM_END : FOUR_GIB;
        return (top + (1L << 30) - 1) & -(1L << 30);
    }
}

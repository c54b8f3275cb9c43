package dev.jvmm.vmm.boot;

/**
 * How the boot vCPU enters the kernel.
 *
 * @param mode  the CPU mode at entry
 * @param rip   entry point (guest-physical)
 * @param param RSI (zero page) for the Linux boot protocol, RBX (hvm_start_info) for PVH
 * @param description a line for the log ("bzImage 2.15, 64-bit entry")
 */
public record BootEntry(Mode mode, long rip, long param, String description) {
    public enum Mode {
        /** bzImage 64-bit entry (startup_64 at +0x200): long mode, identity-mapped page tables, RSI = zero page. */
        LONG64,
        /** bzImage 32-bit flat protected mode (code32_start), paging off, RSI = zero page. */
        PROTECTED32,
        /** PVH (Xen ELF note PHYS32_ENTRY): 32-bit flat protected mode, paging off, RBX = hvm_start_info. */
        PVH
    }
}

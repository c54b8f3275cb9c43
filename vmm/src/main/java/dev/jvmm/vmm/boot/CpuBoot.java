package dev.jvmm.vmm.boot;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.kvm.Regs;
import dev.jvmm.sys.kvm.Segment;
import dev.jvmm.sys.kvm.Sregs;
import dev.jvmm.sys.kvm.VcpuFd;

/**
 * Puts the boot vCPU at the kernel's entry: a GDT (null, code64 0xa09b, code32/data 0xc09b/0xc093, TSS) at
 * {@link Layout#GDT}; for the 64-bit entry, identity-mapped page tables for the first 4 GiB (2 MiB pages) with
 * CR0.PE|PG, CR4.PAE, EFER.LME|LMA; for the 32-bit and PVH entries, flat 32-bit segments with paging off.
 */
public final class CpuBoot {
    static final long CR0_PE = 1, CR0_ET = 0x10, CR0_PG = 0x8000_0000L;
    static final long CR4_PAE = 0x20;
    static final long EFER_LME = 0x100, EFER_LMA = 0x400;

    private CpuBoot() {
    }

    /**
     * Real-mode code at F000:FFF0 that asks for a reset through the ACPI reset register ({@code mov dx, port;
     * mov al, value; out dx, al; hlt; jmp $-1}). There is no firmware, but Linux's last reboot method jumps there:
     * on a hardware-reduced ACPI machine without EFI it picks {@code BOOT_EFI} by default ({@code
     * efi_reboot_required()}), which falls through to {@code machine_real_restart(MRR_BIOS)}, a far jump to the
     * BIOS reset vector. Without this stub a plain {@code reboot} would spin in zeroed memory forever.
     */
    public static byte[] resetVectorCode(int resetPort, int resetValue) {
        return new byte[] {(byte) 0xba, (byte) resetPort, (byte) (resetPort >> 8), (byte) 0xb0, (byte) resetValue,
            (byte) 0xee, (byte) 0xf4, (byte) 0xeb, (byte) 0xfd};
    }

    /** Writes the GDT and (for long mode) the page tables into guest RAM. */
    public static void writeTables(GuestMemory mem, BootEntry.Mode mode) {
        long[] gdt = {
            0,
            gdtEntry(0xa09b, 0, 0xfffff), // 0x08: 64-bit code
            gdtEntry(0xc093, 0, 0xfffff), // 0x10: data
            gdtEntry(0x808b, 0, 0xfffff), // 0x18: TSS (busy), never loaded by the kernel before it sets its own
            gdtEntry(0xc09b, 0, 0xfffff), // 0x20: 32-bit code
        };
        for (int i = 0; i < gdt.length; i++) {
            mem.putLong(Layout.GDT + 8L * i, gdt[i]);
        }
        mem.putLong(Layout.IDT, 0);
        if (mode == BootEntry.Mode.LONG64) {
            mem.fill(Layout.PML4, 0x6000, (byte) 0);
            mem.putLong(Layout.PML4, Layout.PDPT | 0x3);
            for (int g = 0; g < 4; g++) {
                long pd = Layout.PD + 0x1000L * g;
                mem.putLong(Layout.PDPT + 8L * g, pd | 0x3);
                for (int i = 0; i < 512; i++) {
                    mem.putLong(pd + 8L * i, ((long) g << 30) + ((long) i << 21) | 0x83); // P | RW | PS (2 MiB)
                }
            }
        }
    }

    /** Intel SDM Vol. 3 §3.4.5 descriptor from the flags word (access byte + flags nibble), base and limit. */
    static long gdtEntry(int flags, long base, long limit) {
        return ((base & 0xff00_0000L) << 32) | ((base & 0x00ff_ffffL) << 16) | (limit & 0xffffL)
                | ((limit & 0xf_0000L) << 32) | (((long) flags & 0xf0ff) << 40);
    }

    /** Sets registers and special registers of the boot vCPU for {@code entry}. */
    public static void setEntryState(VcpuFd vcpu, BootEntry entry) {
        Sregs s = vcpu.getSregs();
        s.gdtBase = Layout.GDT;
        s.gdtLimit = 5 * 8 - 1;
        s.idtBase = Layout.IDT;
        s.idtLimit = 7;
        boolean long64 = entry.mode() == BootEntry.Mode.LONG64;
        Segment code = Segment.flat(long64 ? 0x08 : 0x20, true, long64);
        Segment data = Segment.flat(0x10, false, false);
        s.setFlatSegments(code, data);
        s.tr.selector = 0x18;
        s.tr.base = 0;
        s.tr.limit = 0xfffff;
        s.tr.type = 0xb;
        s.tr.present = 1;
        s.tr.s = 0;
        s.tr.g = 1;
        if (long64) {
            s.cr3 = Layout.PML4;
            s.cr4 |= CR4_PAE;
            s.cr0 = CR0_PE | CR0_ET | CR0_PG;
            s.efer |= EFER_LME | EFER_LMA;
        } else {
            s.cr0 = CR0_PE | CR0_ET;
            s.cr4 = 0;
            s.cr3 = 0;
            s.efer = 0;
        }
        vcpu.setSregs(s);
        Regs r = new Regs();
        r.rip = entry.rip();
        r.rflags = 2;
        r.rsp = Layout.BOOT_STACK;
        r.rbp = Layout.BOOT_STACK;
        if (entry.mode() == BootEntry.Mode.PVH) {
            r.rbx = entry.param();
        } else {
            r.rsi = entry.param();
        }
        vcpu.setRegs(r);
    }
}

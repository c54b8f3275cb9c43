package dev.jvmm.vmm;

import dev.jvmm.sys.kvm.CpuidEntry;
import java.util.ArrayList;
import java.util.List;

/**
 * The CPUID table each vCPU gets: KVM_GET_SUPPORTED_CPUID, with the topology of {@code cpus} single-threaded
 * cores in one socket and each vCPU's APIC id (= its index) in leaves 0x1, 0x4, 0xB/0x1F and 0x8000001E, the
 * hypervisor bit set, and KVM's paravirtual leaves (0x40000000 "KVMKVMKVM") kept as KVM reports them.
 */
public final class Cpuid {
    private Cpuid() {
    }

    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int apicId, int cpus) {
        int coreBits = 32 - Integer.numberOfLeadingZeros(Math.max(1, cpus - 1));
        if (cpus == 1) {
            coreBits = 0;
        }
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            CpuidEntry n = e;
            switch (e.function()) {
                case 0x1 -> {
                    int ebx = (e.ebx() & 0x0000_ffff) | (apicId << 24) | (Math.min(255, cpus) << 16);
                    int ecx = e.ecx() | (1 << 31); // hypervisor present
                    int edx = cpus > 1 ? e.edx() | (1 << 28) : e.edx() & ~(1 << 28); // HTT: multi-core package
                    n = e.withRegs(e.eax(), ebx, ecx, edx);
                }
                case 0x4 -> {
                    // EAX[31:26]: cores per package - 1; EAX[25:14]: logical processors sharing this cache - 1
                    int level = (e.eax() >> 5) & 7;
                    int sharing = level >= 3 ? cpus - 1 : 0;
                    int eax = (e.eax() & 0x3fff) | (sharing << 14) | ((cpus - 1) << 26);
                    n = e.eax() == 0 ? e : e.withRegs(eax, e.ebx(), e.ecx(), e.edx());
                }
                case 0xb, 0x1f -> {
                    // x2APIC topology: level 0 SMT (1 thread), level 1 core (cpus), then invalid.
                    n = switch (e.index()) {
                        case 0 -> e.withRegs(0, 1, 0x100, apicId);
                        case 1 -> e.withRegs(coreBits, cpus, 0x201, apicId);
                        default -> e.withRegs(0, 0, e.index(), apicId);
                    };
                }
                case 0x8000_0001 -> {
                    int ecx = cpus > 1 ? e.ecx() | 0x2 : e.ecx(); // CmpLegacy
                    n = e.withRegs(e.eax(), e.ebx(), ecx, e.edx());
                }
                case 0x8000_0008 -> {
                    // ECX[15:12] ApicIdCoreIdSize, [7:0] NC = cores - 1 (AMD)
                    int ecx = (e.ecx() & ~0xf0ff) | (coreBits << 12) | (cpus - 1);
                    n = e.withRegs(e.eax(), e.ebx(), ecx, e.edx());
                }
                case 0x8000_001e -> n = e.withRegs(apicId, apicId & 0xff, 0, e.edx()); // ext APIC id, core id, node 0
                default -> { }
            }
            out.add(n);
        }
        return out;
    }
}

package dev.jvmm.sys.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** CpuCompatibility over CPUID tables and MSR lists shaped like a Cascade Lake server's KVM answers. */
class CpuCompatibilityTest {
    private static final int SIG = CpuidEntry.KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

    /** KVM_GET_SUPPORTED_CPUID of a Cascade Lake host (AVX-512, VNNI, no TSX), newer kernel (TSC deadline offered). */
    private static final List<CpuidEntry> CASCADE_LAKE = List.of(
            new CpuidEntry(0x0, 0, 0, 0x16, 0x756e6547, 0x6c65746e, 0x49656e69), // GenuineIntel
            new CpuidEntry(0x1, 0, 0, 0x50657, 0, 0x77fa3223, 0x0f8bfbff),
            new CpuidEntry(0x7, 0, SIG, 0x0, 0xd19f07ab, 0x0000080c, 0xbc000400),
            new CpuidEntry(0xd, 0, SIG, 0x2e7, 0xa88, 0xa88, 0),
            new CpuidEntry(0xd, 1, SIG, 0xf, 0, 0, 0),
            new CpuidEntry(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d), // KVMKVMKVM
            new CpuidEntry(0x80000000, 0, 0, 0x80000008, 0, 0, 0),
            new CpuidEntry(0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800),
            new CpuidEntry(0x80000008, 0, 0, 0x302e, 0x0100d000, 0, 0));

    /**
     * What a guest on that host has after boot: hypervisor and, for 4 vCPUs, ht and cmp_legacy set by the VMM, its
     * APIC id in EBX, osxsave and ospke set by KVM as the guest kernel turned on CR4.OSXSAVE and CR4.PKE, and the two
     * inverted x87 bits set as KVM's errata advise.
     */
    private static final List<CpuidEntry> GUEST = edit(CASCADE_LAKE, e -> switch (e.function()) {
        case 0x1 -> e.withRegs(e.eax(), 0x02040800, e.ecx() | 1 << 31 | 1 << 27, e.edx() | 1 << 28);
        case 0x7 -> e.withRegs(e.eax(), e.ebx() | 1 << 6 | 1 << 13, e.ecx() | 1 << 4, e.edx());
        case 0xd -> e.index() == 0 ? e.withRegs(e.eax(), 0x988, e.ecx(), e.edx()) : e;
        case 0x80000001 -> e.withRegs(e.eax(), e.ebx(), e.ecx() | 1 << 1, e.edx());
        default -> e;
    });

    private static final long[][] GUEST_MSRS = {{0x10, 0x12345678L}, {0x1b, 0xfee00900L}, {0x48, 0}, {0x174, 0x10},
        {0x277, 0x0007040600070406L}, {0x6e0, 0}, {0xc0000080L, 0xd01}, {0xc0000102L, 0xffff888100000000L},
        {0xc0000103L, 2}, {0x4b564d01L, 0x1234001}, {0x4b564d03L, 0x5678001}};
    private static final int[] HOST_MSRS = {0x10, 0x1b, 0x3a, 0x3b, 0x48, 0x10a, 0x174, 0x175, 0x176, 0x277, 0x6e0,
        0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103,
        0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, 0x4b564d04};

    private static List<CpuidEntry> edit(List<CpuidEntry> entries, UnaryOperator<CpuidEntry> f) {
        return entries.stream().map(f).toList();
    }

    private static List<CpuidEntry> replace(List<CpuidEntry> entries, int leaf, int subleaf,
            UnaryOperator<CpuidEntry> f) {
        return edit(entries, e -> e.function() == leaf && e.index() == subleaf ? f.apply(e) : e);
    }

    @Test
    void theSameHostGivesEverything() {
        assertEquals(List.of(), CpuCompatibility.problems(GUEST, CASCADE_LAKE, GUEST_MSRS, HOST_MSRS));
        assertEquals(List.of(), CpuCompatibility.problems(CASCADE_LAKE, CASCADE_LAKE, GUEST_MSRS, HOST_MSRS));
        assertEquals("", CpuCompatibility.describe(List.of()));
    }

    @Test
    void aMissingFeatureBitIsNamed() {
        List<CpuidEntry> host = replace(CASCADE_LAKE, 0x7, 0, e -> e.withRegs(e.eax(), e.ebx() & ~(1 << 5), e.ecx(),
                e.edx()));
        List<String> p = CpuCompatibility.problems(GUEST, host, GUEST_MSRS, HOST_MSRS);
        assertEquals(List.of("CPUID 0x7.0 EBX bit 5 (avx2): the saved guest uses it, this host's KVM does not offer"
                + " it"), p);
        assertEquals("the saved vCPU state needs a CPU this host cannot give (1 problem):\n  " + p.get(0),
                CpuCompatibility.describe(p));
    }

    @Test
    void aHostWithoutAvx512MissesEachOfItsBitsAndXsaveComponents() {
        // a desktop CPU of the same generation: no AVX-512, no VNNI, no opmask/ZMM state
        List<CpuidEntry> host = replace(replace(CASCADE_LAKE, 0x7, 0, e -> e.withRegs(e.eax(), 0x019c07ab,
                e.ecx() & ~(1 << 11), e.edx())), 0xd, 0, e -> e.withRegs(0x207, 0x988, 0x988, 0));
        List<String> p = CpuCompatibility.problems(GUEST, host, GUEST_MSRS, HOST_MSRS);
        List<String> named = new ArrayList<>();
        for (String s : p) {
            named.add(s.substring(s.indexOf('(') + 1, s.indexOf(')')));
        }
        assertEquals(List.of("avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512_vnni",
                "XSAVE component opmask", "XSAVE component zmm_hi256", "XSAVE component hi16_zmm"), named);
        assertTrue(p.get(6).startsWith("CPUID 0xd.0 EAX bit 5 (XSAVE component opmask): "), p.get(6));
        assertTrue(CpuCompatibility.describe(p).startsWith("the saved vCPU state needs a CPU this host cannot give"
                + " (9 problems):\n  CPUID 0x7.0 EBX bit 16 (avx512f): "), CpuCompatibility.describe(p));
    }

    @Test
    void dynamicAndVmmSetBitsAreNotProblems() {
        // an older kernel offers neither TSC deadline nor (on a host booted with nolapic) the APIC bit; the guest
        // has both, and every other excluded bit, while the host has none of them
        int ecxExcluded = 1 << 24 | 1 << 27 | 1 << 31;
        List<CpuidEntry> host = replace(CASCADE_LAKE, 0x1, 0, e -> e.withRegs(e.eax(), e.ebx(),
                e.ecx() & ~ecxExcluded, e.edx() & ~(1 << 9)));
        List<CpuidEntry> guest = replace(GUEST, 0x1, 0, e -> e.withRegs(e.eax(), e.ebx(), e.ecx() | ecxExcluded,
                e.edx() | 1 << 9));
        assertEquals(List.of(), CpuCompatibility.problems(guest, host, GUEST_MSRS, HOST_MSRS));
        assertEquals(9, CpuCompatibility.EXCLUDED.size());

        // x2apic is not excluded: KVM offers it everywhere, so a host without it is a real difference
        List<CpuidEntry> noX2apic = replace(host, 0x1, 0, e -> e.withRegs(e.eax(), e.ebx(), e.ecx() & ~(1 << 21),
                e.edx()));
        assertEquals(List.of("CPUID 0x1.0 ECX bit 21 (x2apic): the saved guest uses it, this host's KVM does not"
                + " offer it"), CpuCompatibility.problems(guest, noX2apic, GUEST_MSRS, HOST_MSRS));
    }

    @Test
    void anotherVendorIsRefused() {
        List<CpuidEntry> amd = replace(CASCADE_LAKE, 0x0, 0, e -> e.withRegs(0x10, 0x68747541, 0x444d4163,
                0x69746e65)); // AuthenticAMD
        assertEquals(List.of("CPUID 0x0 vendor: the saved guest's CPU is GenuineIntel, this host's is AuthenticAMD"),
                CpuCompatibility.problems(GUEST, amd, GUEST_MSRS, HOST_MSRS));
    }

    @Test
    void aLeafTheHostLacksOffersNoBits() {
        // a Sapphire Rapids guest has leaf 0x7.1 (avx_vnni, avx512_bf16); the Cascade Lake host reports none
        List<CpuidEntry> guest = new ArrayList<>(GUEST);
        guest.add(3, new CpuidEntry(0x7, 1, SIG, 0x30, 0, 0, 0));
        assertEquals(List.of(
                "CPUID 0x7.1 EAX bit 4 (avx_vnni): the saved guest uses it, this host's KVM does not offer it (it has"
                        + " no leaf 0x7.1)",
                "CPUID 0x7.1 EAX bit 5 (avx512_bf16): the saved guest uses it, this host's KVM does not offer it (it"
                        + " has no leaf 0x7.1)"),
                CpuCompatibility.problems(guest, CASCADE_LAKE, GUEST_MSRS, HOST_MSRS));
        // the same for a subleaf: a host without 0xd.1 offers none of the XSAVE instruction variants
        List<CpuidEntry> noD1 = CASCADE_LAKE.stream().filter(e -> e.function() != 0xd || e.index() != 1).toList();
        List<String> p = CpuCompatibility.problems(GUEST, noD1, GUEST_MSRS, HOST_MSRS);
        assertEquals(4, p.size(), p.toString());
        assertEquals("CPUID 0xd.1 EAX bit 3 (xsaves): the saved guest uses it, this host's KVM does not offer it (it"
                + " has no leaf 0xd.1)", p.get(3));
    }

    @Test
    void aNarrowerPhysicalAddressIsRefused() {
        List<CpuidEntry> client = replace(CASCADE_LAKE, 0x80000008, 0, e -> e.withRegs(0x3027, e.ebx(), 0, 0));
        assertEquals(List.of("CPUID 0x80000008 EAX[7:0] physical address width: the saved guest has 46 bits, this"
                + " host's KVM offers 39"), CpuCompatibility.problems(GUEST, client, GUEST_MSRS, HOST_MSRS));
        // wider is fine
        assertEquals(List.of(), CpuCompatibility.problems(edit(GUEST, e -> e.function() == 0x80000008
                ? e.withRegs(0x3027, e.ebx(), 0, 0) : e), CASCADE_LAKE, GUEST_MSRS, HOST_MSRS));
    }

    @Test
    void aMissingMsrIsNamedInHex() {
        int[] host = new int[HOST_MSRS.length - 1];
        int n = 0;
        for (int index : HOST_MSRS) {
            if (index != 0xc0000103) {
                host[n++] = index;
            }
        }
        long[][] msrs = {GUEST_MSRS[0], {0xc0000103L, 2}, {0x38f, 0x70000000fL}, {0xc0000103L, 2}};
        assertEquals(List.of(
                "MSR 0xc0000103 (TSC_AUX): the saved guest has a value for it, this host's KVM does not list it"
                        + " (KVM_GET_MSR_INDEX_LIST)",
                "MSR 0x38f: the saved guest has a value for it, this host's KVM does not list it"
                        + " (KVM_GET_MSR_INDEX_LIST)"),
                CpuCompatibility.problems(GUEST, CASCADE_LAKE, msrs, host));
    }

    @Test
    void everyProblemIsListedInOrder() {
        List<CpuidEntry> amd = edit(CASCADE_LAKE, e -> switch (e.function()) {
            case 0x0 -> e.withRegs(0x10, 0x68747541, 0x444d4163, 0x69746e65);
            case 0x1 -> e.withRegs(e.eax(), e.ebx(), e.ecx() & ~(1 << 25), e.edx()); // no aes
            default -> e;
        });
        List<String> p = CpuCompatibility.problems(GUEST, amd, new long[][] {{0x10, 1}, {0xc0010117L, 0}},
                HOST_MSRS);
        assertEquals(3, p.size(), p.toString());
        assertTrue(p.get(0).startsWith("CPUID 0x0 vendor: "), p.get(0));
        assertTrue(p.get(1).startsWith("CPUID 0x1.0 ECX bit 25 (aes): "), p.get(1));
        assertTrue(p.get(2).startsWith("MSR 0xc0010117: "), p.get(2));
    }
}

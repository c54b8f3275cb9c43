package dev.jvmm.sys.kvm;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Whether this host can give a saved vCPU (a snapshot or an incoming migration, possibly from another host) the CPU
 * it had: its CPUID (as set with KVM_SET_CPUID2) against this host's KVM_GET_SUPPORTED_CPUID, and its MSRs against
 * KVM_GET_MSR_INDEX_LIST. A pure function over data; state that fails it is to be refused before any restore ioctl.
 *
 * <p>What is checked:
 * <ul>
 * <li>the vendor string (leaf 0x0 EBX, EDX, ECX): an Intel guest cannot go on on AMD, nor the reverse (different
 *     MSRs, SYSCALL/SYSENTER rules and errata paths the guest kernel chose at boot);
 * <li>the feature-flag registers (leaf 0x1 ECX/EDX, 0x7.0 EBX/ECX/EDX, 0x7.1 EAX, 0xD.1 EAX, 0x80000001 ECX/EDX,
 *     0x80000008 EBX) and the XCR0 components of leaf 0xD.0 EAX/EDX: every bit set in the guest's entry must be set in
 *     the host's; a leaf the host does not report offers no bits. Bits in {@link #EXCLUDED} are not compared;
 *     CPUID 0x1 ECX bit 21 (x2apic) is, since KVM offers it on every host (it emulates it);
 * <li>the physical address width (leaf 0x80000008 EAX[7:0]) must not exceed the host's: a guest may have put
 *     mappings (64-bit BARs, memory) anywhere below its width;
 * <li>every MSR index with a saved value must be in the host's index list, or KVM_SET_MSRS stops at it.
 * </ul>
 * The maximum basic and extended leaves (0x0 EAX, 0x80000000 EAX) are not compared: KVM answers CPUID from the table
 * set with KVM_SET_CPUID2, also for leaves the host lacks, and what such leaves could enable is in the feature
 * registers checked above.
 *
 * <p>Feature names are the {@code /proc/cpuinfo} spelling; for a bit that cpuinfo does not show, the kernel's
 * {@code X86_FEATURE_} name in lower case.
 */
public final class CpuCompatibility {
    private CpuCompatibility() {
    }

    /** A CPUID output register. */
    public enum Reg {
        EAX, EBX, ECX, EDX;

        int of(CpuidEntry e) {
            return switch (this) {
                case EAX -> e.eax();
                case EBX -> e.ebx();
                case ECX -> e.ecx();
                case EDX -> e.edx();
            };
        }
    }

    /** One CPUID bit that is not compared, and why. */
    public record Excluded(int leaf, int subleaf, Reg reg, int bit, String reason) {
    }

    /**
     * Bits of the checked registers that say nothing about what the host can give: they are set by KVM at run time,
     * by the VMM, or mean the absence of a feature.
     */
    public static final List<Excluded> EXCLUDED = List.of(
            new Excluded(0x1, 0, Reg.ECX, 27, "osxsave mirrors the guest's CR4.OSXSAVE; KVM sets it at run time"
                    + " and never offers it"),
            new Excluded(0x7, 0, Reg.ECX, 4, "ospke mirrors the guest's CR4.PKE; KVM sets it at run time and never"
                    + " offers it"),
            new Excluded(0x1, 0, Reg.EDX, 9, "apic is KVM's in-kernel local APIC, not the host's; KVM clears it at"
                    + " run time while the guest's IA32_APIC_BASE disables the APIC"),
            new Excluded(0x1, 0, Reg.ECX, 24, "tsc_deadline_timer is emulated by KVM's in-kernel local APIC"
                    + " (KVM_CAP_TSC_DEADLINE_TIMER); older kernels leave it out of KVM_GET_SUPPORTED_CPUID all"
                    + " the same"),
            new Excluded(0x1, 0, Reg.ECX, 31, "hypervisor is set by the VMM, not offered by KVM"),
            new Excluded(0x1, 0, Reg.EDX, 28, "ht (multi-core package) is topology the VMM sets for a guest of"
                    + " several vCPUs"),
            new Excluded(0x80000001, 0, Reg.ECX, 1, "cmp_legacy is topology the VMM sets for a guest of several"
                    + " vCPUs"),
            new Excluded(0x7, 0, Reg.EBX, 6, "fdp_excptn_only is inverted (set: an x87 behaviour is absent); KVM's"
                    + " errata advise VMMs to set it always"),
            new Excluded(0x7, 0, Reg.EBX, 13, "zero_fcs_fds is inverted (set: an x87 behaviour is absent); KVM's"
                    + " errata advise VMMs to set it always"));

    /** A compared register: 32 bit names ("-" for none), in bit order, and a prefix for them in messages. */
    private record FeatureReg(int leaf, int subleaf, Reg reg, String prefix, String[] names) {
        FeatureReg(int leaf, int subleaf, Reg reg, String prefix, String names) {
            this(leaf, subleaf, reg, prefix, names.split(" "));
            if (this.names.length != 32) {
                throw new AssertionError(String.format("0x%x.%d %s: %d names", leaf, subleaf, reg, this.names.length));
            }
        }

        String name(int bit) {
            return names[bit].equals("-") ? null : prefix + names[bit];
        }
    }

    private static final String NONE32 = "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -";

    private static final List<FeatureReg> FEATURES = List.of(
            new FeatureReg(0x1, 0, Reg.ECX, "", "pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 cid sdbg"
                    + " fma cx16 xtpr pdcm - pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave"
                    + " osxsave avx f16c rdrand hypervisor"),
            new FeatureReg(0x1, 0, Reg.EDX, "", "fpu vme de pse tsc msr pae mce cx8 apic - sep mtrr pge mca cmov pat"
                    + " pse36 pn clflush - dts acpi mmx fxsr sse sse2 ss ht tm ia64 pbe"),
            new FeatureReg(0x7, 0, Reg.EBX, "", "fsgsbase tsc_adjust sgx bmi1 hle avx2 fdp_excptn_only smep bmi2 erms"
                    + " invpcid rtm cqm zero_fcs_fds mpx rdt_a avx512f avx512dq rdseed adx smap avx512ifma -"
                    + " clflushopt clwb intel_pt avx512pf avx512er avx512cd sha_ni avx512bw avx512vl"),
            new FeatureReg(0x7, 0, Reg.ECX, "", "- avx512vbmi umip pku ospke waitpkg avx512_vbmi2 shstk gfni vaes"
                    + " vpclmulqdq avx512_vnni avx512_bitalg tme avx512_vpopcntdq - la57 - - - - - rdpid -"
                    + " bus_lock_detect cldemote - movdiri movdir64b enqcmd sgx_lc -"),
            new FeatureReg(0x7, 0, Reg.EDX, "", "- - avx512_4vnniw avx512_4fmaps fsrm - - - avx512_vp2intersect"
                    + " srbds_ctrl md_clear rtm_always_abort - tsx_force_abort serialize hybrid_cpu tsxldtrk -"
                    + " pconfig arch_lbr ibt - amx_bf16 avx512_fp16 amx_tile amx_int8 spec_ctrl intel_stibp"
                    + " flush_l1d arch_capabilities core_capabilities spec_ctrl_ssbd"),
            new FeatureReg(0x7, 1, Reg.EAX, "", "- - - - avx_vnni avx512_bf16 - cmpccxadd - - fzrm fsrs fsrc - - - - -"
                    + " - - - amx_fp16 - avx_ifma - - lam - - - - -"),
            new FeatureReg(0xd, 0, Reg.EAX, "XSAVE component ", "x87 sse avx bndregs bndcsr opmask zmm_hi256 hi16_zmm"
                    + " - pkru - - - - - - - xtilecfg xtiledata - - - - - - - - - - - - -"),
            new FeatureReg(0xd, 0, Reg.EDX, "", NONE32),
            new FeatureReg(0xd, 1, Reg.EAX, "", "xsaveopt xsavec xgetbv1 xsaves xfd - - - - - - - - - - - - - - - - -"
                    + " - - - - - - - - - -"),
            new FeatureReg(0x80000001, 0, Reg.ECX, "", "lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a"
                    + " misalignsse 3dnowprefetch osvw ibs xop skinit wdt - lwp fma4 tce - nodeid_msr - tbm topoext"
                    + " perfctr_core perfctr_nb - bpext ptsc perfctr_llc mwaitx - -"),
            new FeatureReg(0x80000001, 0, Reg.EDX, "", "- - - - - - - - - - - syscall - - - - - - - mp nx - mmxext - -"
                    + " fxsr_opt pdpe1gb rdtscp - lm 3dnowext 3dnow"),
            new FeatureReg(0x80000008, 0, Reg.EBX, "", "clzero irperf xsaveerptr - rdpru - - - - wbnoinvd - - amd_ibpb"
                    + " - amd_ibrs amd_stibp - - - - - - - - amd_ssbd virt_ssbd amd_ssb_no - - - - -"));

    /** Names of well-known MSRs, for messages. */
    private static final Map<Long, String> MSR_NAMES = Map.ofEntries(
            Map.entry(0x10L, "TSC"), Map.entry(0x1bL, "APIC_BASE"), Map.entry(0x3aL, "FEATURE_CONTROL"),
            Map.entry(0x3bL, "TSC_ADJUST"), Map.entry(0x48L, "SPEC_CTRL"), Map.entry(0x10aL, "ARCH_CAPABILITIES"),
            Map.entry(0x122L, "TSX_CTRL"), Map.entry(0x174L, "SYSENTER_CS"), Map.entry(0x175L, "SYSENTER_ESP"),
            Map.entry(0x176L, "SYSENTER_EIP"), Map.entry(0x1a0L, "MISC_ENABLE"), Map.entry(0x1c4L, "XFD"),
            Map.entry(0x1c5L, "XFD_ERR"), Map.entry(0x277L, "PAT"), Map.entry(0x6e0L, "TSC_DEADLINE"),
            Map.entry(0xda0L, "XSS"), Map.entry(0xc0000080L, "EFER"), Map.entry(0xc0000081L, "STAR"),
            Map.entry(0xc0000082L, "LSTAR"), Map.entry(0xc0000083L, "CSTAR"), Map.entry(0xc0000084L, "SYSCALL_MASK"),
            Map.entry(0xc0000100L, "FS_BASE"), Map.entry(0xc0000101L, "GS_BASE"),
            Map.entry(0xc0000102L, "KERNEL_GS_BASE"), Map.entry(0xc0000103L, "TSC_AUX"),
            Map.entry(0x4b564d00L, "KVM_WALL_CLOCK_NEW"), Map.entry(0x4b564d01L, "KVM_SYSTEM_TIME_NEW"),
            Map.entry(0x4b564d02L, "KVM_ASYNC_PF_EN"), Map.entry(0x4b564d03L, "KVM_STEAL_TIME"),
            Map.entry(0x4b564d04L, "KVM_PV_EOI_EN"));

    /**
     * What keeps this host from giving a saved vCPU its CPU: one sentence per problem (vendor, then each missing
     * CPUID bit in leaf order, the address width, then each missing MSR), empty when there is none.
     *
     * @param guestCpuid the saved vCPU's CPUID ({@link VcpuState#cpuid()})
     * @param hostSupported this host's {@link Kvm#supportedCpuid()}
     * @param guestMsrs the saved {index, value} pairs ({@link VcpuState#msrs()}); indices as unsigned 32 bits
     * @param hostMsrIndexList this host's {@link Kvm#msrIndexList()}
     */
    public static List<String> problems(List<CpuidEntry> guestCpuid, List<CpuidEntry> hostSupported,
            long[][] guestMsrs, int[] hostMsrIndexList) {
        List<String> out = new ArrayList<>();
        vendor(guestCpuid, hostSupported, out);
        for (FeatureReg f : FEATURES) {
            features(f, guestCpuid, hostSupported, out);
        }
        physBits(guestCpuid, hostSupported, out);
        Set<Long> host = new HashSet<>();
        for (int index : hostMsrIndexList) {
            host.add(index & 0xffffffffL);
        }
        Set<Long> reported = new HashSet<>();
        for (long[] m : guestMsrs) {
            long index = m[0] & 0xffffffffL;
            if (!host.contains(index) && reported.add(index)) {
                String name = MSR_NAMES.get(index);
                out.add(String.format("MSR 0x%x%s: the saved guest has a value for it, this host's KVM does not list"
                        + " it (KVM_GET_MSR_INDEX_LIST)", index, name == null ? "" : " (" + name + ")"));
            }
        }
        return out;
    }

    /** The problems as one message for an error: a first line, then one indented line each; "" for none. */
    public static String describe(List<String> problems) {
        if (problems.isEmpty()) {
            return "";
        }
        return "the saved vCPU state needs a CPU this host cannot give (" + problems.size()
                + (problems.size() == 1 ? " problem" : " problems") + "):\n  " + String.join("\n  ", problems);
    }

    private static void vendor(List<CpuidEntry> guestCpuid, List<CpuidEntry> hostSupported, List<String> out) {
        CpuidEntry guest = find(guestCpuid, 0, 0);
        if (guest == null) {
            return;
        }
        CpuidEntry host = find(hostSupported, 0, 0);
        String g = vendor(guest);
        if (host == null) {
            out.add("CPUID 0x0 vendor: the saved guest's CPU is " + g + ", this host's KVM reports no leaf 0x0");
        } else if (!g.equals(vendor(host))) {
            out.add("CPUID 0x0 vendor: the saved guest's CPU is " + g + ", this host's is " + vendor(host));
        }
    }

    private static String vendor(CpuidEntry e) {
        StringBuilder sb = new StringBuilder(12);
        for (int r : new int[] {e.ebx(), e.edx(), e.ecx()}) {
            for (int i = 0; i < 4; i++) {
                char c = (char) ((r >>> (8 * i)) & 0xff);
                sb.append(c >= 0x20 && c < 0x7f ? c : '?');
            }
        }
        return sb.toString();
    }

    private static void features(FeatureReg f, List<CpuidEntry> guestCpuid, List<CpuidEntry> hostSupported,
            List<String> out) {
        CpuidEntry guest = find(guestCpuid, f.leaf(), f.subleaf());
        if (guest == null) {
            return;
        }
        CpuidEntry host = find(hostSupported, f.leaf(), f.subleaf());
        int missing = f.reg().of(guest) & ~(host == null ? 0 : f.reg().of(host)) & ~excludedMask(f);
        String where = String.format("CPUID 0x%x.%d %s", f.leaf(), f.subleaf(), f.reg());
        String why = host == null
                ? String.format(", this host's KVM does not offer it (it has no leaf 0x%x.%d)", f.leaf(), f.subleaf())
                : ", this host's KVM does not offer it";
        for (int bit = 0; bit < 32; bit++) {
            if ((missing & (1 << bit)) != 0) {
                String name = f.name(bit);
                out.add(where + " bit " + bit + (name == null ? "" : " (" + name + ")") + ": the saved guest uses it"
                        + why);
            }
        }
    }

    private static int excludedMask(FeatureReg f) {
        int mask = 0;
        for (Excluded x : EXCLUDED) {
            if (x.leaf() == f.leaf() && x.subleaf() == f.subleaf() && x.reg() == f.reg()) {
                mask |= 1 << x.bit();
            }
        }
        return mask;
    }

    private static void physBits(List<CpuidEntry> guestCpuid, List<CpuidEntry> hostSupported, List<String> out) {
        CpuidEntry guest = find(guestCpuid, 0x80000008, 0);
        int g = guest == null ? 0 : guest.eax() & 0xff;
        if (g == 0) {
            return;
        }
        CpuidEntry host = find(hostSupported, 0x80000008, 0);
        if (host == null) {
            out.add("CPUID 0x80000008 EAX[7:0] physical address width: the saved guest has " + g + " bits, this"
                    + " host's KVM reports no leaf 0x80000008");
        } else if (g > (host.eax() & 0xff)) {
            out.add("CPUID 0x80000008 EAX[7:0] physical address width: the saved guest has " + g + " bits, this"
                    + " host's KVM offers " + (host.eax() & 0xff));
        }
    }

    /** The entry KVM would use for (leaf, subleaf): the subleaf counts only where the entry says it is significant. */
    private static CpuidEntry find(List<CpuidEntry> entries, int leaf, int subleaf) {
        for (CpuidEntry e : entries) {
            if (e.function() == leaf && ((e.flags() & CpuidEntry.KVM_CPUID_FLAG_SIGNIFCANT_INDEX) == 0
                    || e.index() == subleaf)) {
                return e;
            }
        }
        return null;
    }
}

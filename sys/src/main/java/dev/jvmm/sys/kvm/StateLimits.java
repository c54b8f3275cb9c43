package dev.jvmm.sys.kvm;

import dev.jvmm.sys.kvm.uapi.KvmXsave;

/**
 * Upper bounds on the variable-length parts of a {@link VcpuState} stream, each checked before anything of that
 * length is allocated, so that a hostile or corrupt stream costs at most these. The fixed-size parts (registers,
 * LAPIC, events, irqchips) are checked against their exact kernel struct sizes instead.
 *
 * @param maxXsaveBytes the largest XSAVE area accepted (4096 without dynamic features, about 11 KiB with AMX)
 * @param maxMsrs the most MSRs per vCPU (KVM saves a few hundred)
 * @param maxCpuidEntries the most CPUID entries per vCPU (KVM takes at most 256)
 */
public record StateLimits(int maxXsaveBytes, int maxMsrs, int maxCpuidEntries) {
    /** 64 KiB of XSAVE, 4096 MSRs, 256 CPUID entries. */
    public static final StateLimits DEFAULT = new StateLimits(64 * 1024, 4096, Kvm.MAX_CPUID_ENTRIES);

    public StateLimits {
        if (maxXsaveBytes < KvmXsave.SIZEOF || maxMsrs < 0 || maxCpuidEntries < 0) {
            throw new IllegalArgumentException("state limits: xsave " + maxXsaveBytes + " (at least " + KvmXsave.SIZEOF
                    + "), msrs " + maxMsrs + ", cpuid entries " + maxCpuidEntries);
        }
    }
}

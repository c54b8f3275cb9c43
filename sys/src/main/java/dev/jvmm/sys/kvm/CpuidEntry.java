package dev.jvmm.sys.kvm;

import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.kvm.uapi.KvmCpuidEntry2;

/** One {@code struct kvm_cpuid_entry2}. */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    /** {@code KVM_CPUID_FLAG_SIGNIFCANT_INDEX}: the entry applies to one {@code index} (sub-leaf) only. */
    public static final int KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

    static CpuidEntry read(NativeBuffer b, long off) {
        return new CpuidEntry(b.getInt(off + KvmCpuidEntry2.FUNCTION), b.getInt(off + KvmCpuidEntry2.INDEX),
                b.getInt(off + KvmCpuidEntry2.FLAGS), b.getInt(off + KvmCpuidEntry2.EAX),
                b.getInt(off + KvmCpuidEntry2.EBX), b.getInt(off + KvmCpuidEntry2.ECX),
                b.getInt(off + KvmCpuidEntry2.EDX));
    }

    void write(NativeBuffer b, long off) {
        b.putInt(off + KvmCpuidEntry2.FUNCTION, function);
        b.putInt(off + KvmCpuidEntry2.INDEX, index);
        b.putInt(off + KvmCpuidEntry2.FLAGS, flags);
        b.putInt(off + KvmCpuidEntry2.EAX, eax);
        b.putInt(off + KvmCpuidEntry2.EBX, ebx);
        b.putInt(off + KvmCpuidEntry2.ECX, ecx);
        b.putInt(off + KvmCpuidEntry2.EDX, edx);
    }

    public CpuidEntry withRegs(int eax, int ebx, int ecx, int edx) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, edx);
    }
}

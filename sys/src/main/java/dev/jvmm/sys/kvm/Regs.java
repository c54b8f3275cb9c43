package dev.jvmm.sys.kvm;

import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.kvm.uapi.KvmRegs;

/** {@code struct kvm_regs}: general-purpose registers, C field names. */
public final class Regs {
    public long rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    public long r8, r9, r10, r11, r12, r13, r14, r15;
    public long rip, rflags;

    /** These registers as {@code struct kvm_regs} (x86-64 layout): how a state file stores them. */
    public byte[] toBytes() {
        return Blobs.encode(KvmRegs.SIZEOF, this::write);
    }

    /** Registers from the {@code struct kvm_regs} bytes {@link #toBytes()} made. */
    public static Regs fromBytes(byte[] kvmRegs) {
        return Blobs.decode("struct kvm_regs", kvmRegs, KvmRegs.SIZEOF, b -> {
            Regs r = new Regs();
            r.read(b);
            return r;
        });
    }

    void read(NativeBuffer b) {
        long[] v = new long[18];
        for (int i = 0; i < 18; i++) {
            v[i] = b.getLong(KvmRegs.RAX + 8L * i);
        }
        rax = v[0]; rbx = v[1]; rcx = v[2]; rdx = v[3]; rsi = v[4]; rdi = v[5]; rsp = v[6]; rbp = v[7];
        r8 = v[8]; r9 = v[9]; r10 = v[10]; r11 = v[11]; r12 = v[12]; r13 = v[13]; r14 = v[14]; r15 = v[15];
        rip = b.getLong(KvmRegs.RIP);
        rflags = b.getLong(KvmRegs.RFLAGS);
    }

    void write(NativeBuffer b) {
        long[] v = {rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15};
        for (int i = 0; i < v.length; i++) {
            b.putLong(KvmRegs.RAX + 8L * i, v[i]);
        }
        b.putLong(KvmRegs.RIP, rip);
        b.putLong(KvmRegs.RFLAGS, rflags);
    }
}

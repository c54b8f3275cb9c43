package dev.jvmm.probe;

import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.kvm.ExitReason;
import dev.jvmm.sys.kvm.Kvm;
import dev.jvmm.sys.kvm.Regs;
import dev.jvmm.sys.kvm.Sregs;
import dev.jvmm.sys.kvm.VcpuFd;
import dev.jvmm.sys.kvm.VmFd;
import java.time.Duration;

/**
 * Times a tiny 64-bit guest loop to tell hardware-assisted KVM (about 10^9 simple instructions per second and
 * more) from a KVM that emulates guest code (10^5–10^8). The guest is
 * <pre>
 *   mov ecx, N        ; B9 imm32
 * 1: dec ecx          ; FF C9
 *   jnz 1b            ; 75 FC
 *   hlt               ; F4
 * </pre>
 * so it retires {@code 2N + 2} instructions and exits once. N starts small and grows (at most ×100 a round) until
 * one run lasts long enough to time, so a slow KVM is measured in a fraction of a second and the total time stays
 * under the budget whatever the speed.
 */
public final class KvmSpeed {
    /** Default wall-clock budget for the whole measurement. */
    public static final Duration DEFAULT_BUDGET = Duration.ofSeconds(3);
    /**
     * Below this many instructions per second KVM is treated as emulating guest code. Hardware runs one loop
     * iteration (two instructions) every one or two cycles, so 1e9/s and more at 1 GHz; emulation (kvm_pvm, nested
     * KVM under QEMU TCG) measured 1e5 to 3.2e8 here (TCG chains the translated loop). The best of up to three timed
     * runs is kept, so a preempted run does not make real hardware look slow.
     */
    public static final double HARDWARE_THRESHOLD = 1e9;

    static final long RAM = 2L << 20;
    static final long CODE = 0x1000;
    private static final long MIN_TIMED_NANOS = 50_000_000L;
    private static final long START_N = 10_000;
    private static final long MAX_N = 0x7fff_ffffL;

    /**
     * @param instructions     guest instructions retired in the timed run
     * @param nanos            wall time of that run (KVM_RUN until HLT)
     * @param instructionsPerSecond instructions / seconds
     * @param rounds           runs made, including calibration
     */
    public record Result(long instructions, long nanos, double instructionsPerSecond, int rounds) {
        public boolean hardwareSpeed() {
            return instructionsPerSecond >= HARDWARE_THRESHOLD;
        }
    }

    private KvmSpeed() {
    }

    /** Measures on a fresh VM created from {@code kvm}; everything created is released before returning. */
    public static Result measure(Kvm kvm, Duration budget) {
        long deadline = System.nanoTime() + budget.toNanos();
        // RAM is declared first so that it is unmapped after the VM (and its memory slot) is gone
        try (Mmap ram = Mmap.anonymous(RAM, "probe guest RAM"); VmFd vm = kvm.createVm()) {
            vm.setTssAddr(0xfffbd000L);
            vm.setUserMemoryRegion(0, 0, 0, RAM, ram.address());
            long base = ram.address();
            // 4-level paging, one 2 MiB identity page: PML4 0x2000 -> PDPT 0x3000 -> PD 0x4000
            Native.putLong(base + 0x2000, 0x3000 | 3);
            Native.putLong(base + 0x3000, 0x4000 | 3);
            Native.putLong(base + 0x4000, 0x83);
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                // KVM rejects EFER.LME/LMA (KVM_SET_SREGS: EINVAL) unless the guest's CPUID has long mode, and a
                // new vcpu has an empty CPUID: give it everything KVM supports
                vcpu.setCpuid(kvm.supportedCpuid());
                long n = START_N;
                int rounds = 0;
                while (true) {
                    rounds++;
                    long nanos = runLoop(vcpu, base, n);
                    long instr = 2 * n + 2;
                    long now = System.nanoTime();
                    boolean timedEnough = nanos >= MIN_TIMED_NANOS || n >= MAX_N;
                    // the next round would take about nanos * factor; stop if that would overrun the budget
                    long factor = nanos <= 0 ? 100 : Math.max(2, Math.min(100, (2 * MIN_TIMED_NANOS) / nanos + 1));
                    if (timedEnough || now + nanos * factor > deadline) {
                        long best = nanos;
                        for (int extra = 0; extra < 2 && System.nanoTime() + best < deadline; extra++) {
                            rounds++;
                            best = Math.min(best, runLoop(vcpu, base, n));
                        }
                        return new Result(instr, best, instr / (Math.max(best, 1) / 1e9), rounds);
                    }
                    n = Math.min(MAX_N, n * factor);
                }
            }
        }
    }

    private static long runLoop(VcpuFd vcpu, long base, long n) {
        byte[] code = {
            (byte) 0xB9, (byte) n, (byte) (n >>> 8), (byte) (n >>> 16), (byte) (n >>> 24), // mov ecx, n
            (byte) 0xFF, (byte) 0xC9, // dec ecx
            (byte) 0x75, (byte) 0xFC, // jnz -4
            (byte) 0xF4 // hlt
        };
        Native.put(base + CODE, code, 0, code.length);
        Sregs s = vcpu.getSregs();
        s.enterLongMode(0x2000);
        vcpu.setSregs(s);
        Regs r = new Regs();
        r.rip = CODE;
        r.rsp = 0x8000;
        r.rflags = 2;
        vcpu.setRegs(r);
        long t0 = System.nanoTime();
        for (int exits = 0; exits < 1_000_000; exits++) {
            ExitReason e = vcpu.run();
            if (e == ExitReason.HLT) {
                return System.nanoTime() - t0;
            }
            if (e != ExitReason.INTR) {
                throw new ProbeException(ProbeException.Reason.KVM, "speed-test guest stopped with " + e + " (raw "
                        + vcpu.rawExitReason() + ") at rip 0x" + Long.toHexString(vcpu.getRegs().rip));
            }
        }
        throw new ProbeException(ProbeException.Reason.KVM, "speed-test guest did not reach HLT");
    }
}

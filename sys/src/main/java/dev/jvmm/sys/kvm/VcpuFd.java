package dev.jvmm.sys.kvm;

import static dev.jvmm.sys.kvm.uapi.KvmIoctls.*;
import static dev.jvmm.sys.kvm.uapi.KvmRunLayout.*;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.FlexArray;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.kvm.uapi.KvmCpuid2;
import dev.jvmm.sys.kvm.uapi.KvmCpuidEntry2;
import dev.jvmm.sys.kvm.uapi.KvmDebugregs;
import dev.jvmm.sys.kvm.uapi.KvmFpu;
import dev.jvmm.sys.kvm.uapi.KvmLapicState;
import dev.jvmm.sys.kvm.uapi.KvmMpState;
import dev.jvmm.sys.kvm.uapi.KvmMsrEntry;
import dev.jvmm.sys.kvm.uapi.KvmMsrs;
import dev.jvmm.sys.kvm.uapi.KvmRegs;
import dev.jvmm.sys.kvm.uapi.KvmSregs;
import dev.jvmm.sys.kvm.uapi.KvmVcpuEvents;
import dev.jvmm.sys.kvm.uapi.KvmXcrs;
import dev.jvmm.sys.kvm.uapi.KvmXsave;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * A vcpu fd and its mmap'd {@code kvm_run}. {@link #run()} returns an {@link ExitReason}; the exit's
 * details are read straight from {@code kvm_run} through the accessors, without allocation. Not thread-safe:
 * one thread runs one vcpu.
 *
 * <p>The register and state ioctls a snapshot needs are here too: typed for the registers ({@link Regs},
 * {@link Sregs}), as the kernel's structs copied to {@code byte[]} for the state jvmm only saves and restores
 * (XSAVE, XCRs, debug registers, LAPIC, vCPU events), {@code long[][]} of {index, value} for MSRs. {@link VcpuState}
 * puts them together in the order KVM needs.
 */
public final class VcpuFd implements AutoCloseable {
    /** The most MSRs one KVM_GET_MSRS / KVM_SET_MSRS takes is 255 (the kernel's MAX_IO_MSRS - 1): stay well below. */
    static final int MSRS_PER_CALL = 128;
    private final VmFd vm;
    private final int id;
    private final Fd fd;
    private final Mmap run;
    private final long runAddr;
    private final NativeBuffer regsBuf = new NativeBuffer(KvmRegs.SIZEOF);
    private final NativeBuffer sregsBuf = new NativeBuffer(KvmSregs.SIZEOF);

    VcpuFd(VmFd vm, int id, Fd fd, int mmapSize) {
        this.vm = vm;
        this.id = id;
        this.fd = fd;
        this.run = Mmap.shared(fd, mmapSize, 0, Native.PROT_READ | Native.PROT_WRITE, "kvm_run vcpu " + id);
        this.runAddr = run.address();
    }

    public int id() {
        return id;
    }

    public Fd fd() {
        return fd;
    }

    /** KVM_RUN. EINTR (a signal, or {@link #setImmediateExit}) is reported as {@link ExitReason#INTR}. */
    public ExitReason run() {
        int r = Native.LIBC.ioctl(fd.fd(), KVM_RUN, 0);
        if (r < 0) {
            int e = Native.errno();
            if (e == Errno.EINTR || e == Errno.EAGAIN) {
                return ExitReason.INTR;
            }
            throw new ErrnoException("KVM_RUN", e, "vcpu " + id);
        }
        return ExitReason.of(rawExitReason());
    }

    /** {@code kvm_run.immediate_exit}: when set, the next KVM_RUN returns EINTR at once. */
    public void setImmediateExit(boolean on) {
        Native.putByte(runAddr + IMMEDIATE_EXIT, (byte) (on ? 1 : 0));
    }

    public int rawExitReason() {
        return Native.getInt(runAddr + EXIT_REASON);
    }

    // --- KVM_EXIT_IO
    /** {@code KVM_EXIT_IO_IN} (0) or {@code KVM_EXIT_IO_OUT} (1). */
    public int ioDirection() {
        return Native.getByte(runAddr + IO_DIRECTION);
    }

    public boolean ioIsOut() {
        return ioDirection() == 1;
    }

    public int ioSize() {
        return Native.getByte(runAddr + IO_SIZE);
    }

    public int ioPort() {
        return Native.getShort(runAddr + IO_PORT) & 0xffff;
    }

    public int ioCount() {
        return Native.getInt(runAddr + IO_COUNT);
    }

    /** Host address of the i-th I/O data item inside the kvm_run page. */
    public long ioDataAddress(int i) {
        return runAddr + Native.getLong(runAddr + IO_DATA_OFFSET) + (long) i * ioSize();
    }

    // --- KVM_EXIT_MMIO
    public long mmioPhysAddr() {
        return Native.getLong(runAddr + MMIO_PHYS_ADDR);
    }

    public int mmioLen() {
        return Native.getInt(runAddr + MMIO_LEN);
    }

    public boolean mmioIsWrite() {
        return Native.getByte(runAddr + MMIO_IS_WRITE) != 0;
    }

    /** Host address of {@code kvm_run.mmio.data[8]}. */
    public long mmioDataAddress() {
        return runAddr + MMIO_DATA;
    }

    // --- other exits
    public long failEntryReason() {
        return Native.getLong(runAddr + FAIL_ENTRY_REASON);
    }

    public int internalSuberror() {
        return Native.getInt(runAddr + INTERNAL_SUBERROR);
    }

    public long[] internalData() {
        int n = Math.min(16, Native.getInt(runAddr + INTERNAL_NDATA));
        long[] d = new long[Math.max(0, n)];
        for (int i = 0; i < d.length; i++) {
            d[i] = Native.getLong(runAddr + INTERNAL_DATA + 8L * i);
        }
        return d;
    }

    public int systemEventType() {
        return Native.getInt(runAddr + SYSTEM_EVENT_TYPE);
    }

    // --- register state
    /** KVM_GET_REGS. */
    public Regs getRegs() {
        fd.ioctl("KVM_GET_REGS", KVM_GET_REGS, regsBuf.address(), "vcpu " + id);
        Regs r = new Regs();
        r.read(regsBuf);
        return r;
    }

    /** KVM_SET_REGS. */
    public void setRegs(Regs r) {
        r.write(regsBuf);
        fd.ioctl("KVM_SET_REGS", KVM_SET_REGS, regsBuf.address(), "vcpu " + id);
    }

    /** KVM_GET_SREGS. */
    public Sregs getSregs() {
        fd.ioctl("KVM_GET_SREGS", KVM_GET_SREGS, sregsBuf.address(), "vcpu " + id);
        Sregs s = new Sregs();
        s.read(sregsBuf);
        return s;
    }

    /** KVM_SET_SREGS. */
    public void setSregs(Sregs s) {
        s.write(sregsBuf);
        fd.ioctl("KVM_SET_SREGS", KVM_SET_SREGS, sregsBuf.address(), "vcpu " + id);
    }

    /** KVM_SET_CPUID2. */
    public void setCpuid(List<CpuidEntry> entries) {
        try (FlexArray a = new FlexArray(KvmCpuid2.SIZEOF, KvmCpuidEntry2.SIZEOF, entries.size())) {
            a.buffer().putInt(KvmCpuid2.NENT, entries.size());
            for (int i = 0; i < entries.size(); i++) {
                entries.get(i).write(a.buffer(), a.entry(i));
            }
            fd.ioctl("KVM_SET_CPUID2", KVM_SET_CPUID2, a.address(), "vcpu " + id + " nent=" + entries.size());
        }
    }

    /**
     * KVM_SET_MSRS of {index, value} pairs, in calls of at most {@value #MSRS_PER_CALL}; every MSR must be accepted,
     * otherwise the first refused index is named.
     */
    public void setMsrs(long[][] indexAndValue) {
        for (int from = 0; from < indexAndValue.length; from += MSRS_PER_CALL) {
            int n = Math.min(MSRS_PER_CALL, indexAndValue.length - from);
            try (FlexArray a = new FlexArray(KvmMsrs.SIZEOF, KvmMsrEntry.SIZEOF, n)) {
                a.buffer().putInt(KvmMsrs.NMSRS, n);
                for (int i = 0; i < n; i++) {
                    a.buffer().putInt(a.entry(i) + KvmMsrEntry.INDEX, (int) indexAndValue[from + i][0]);
                    a.buffer().putLong(a.entry(i) + KvmMsrEntry.DATA, indexAndValue[from + i][1]);
                }
                int set = fd.ioctl("KVM_SET_MSRS", KVM_SET_MSRS, a.address(), ctx());
                if (set != n) {
                    throw new ErrnoException("KVM_SET_MSRS", Errno.EINVAL,
                            String.format("vcpu %d: MSR 0x%x refused (%d of %d set)", id, indexAndValue[from + set][0],
                                    from + set, indexAndValue.length));
                }
            }
        }
    }

    /** KVM_GET_MSRS for one MSR. */
    public long getMsr(int index) {
        return getMsrs(new int[] {index})[0][1];
    }

    /** KVM_GET_MSRS of every index; an MSR KVM refuses to read fails the call, naming it. */
    public long[][] getMsrs(int[] indices) {
        return getMsrs(indices, index -> {
            throw new ErrnoException("KVM_GET_MSRS", Errno.EINVAL, String.format("vcpu %d: MSR 0x%x", id, index));
        });
    }

    /**
     * KVM_GET_MSRS of {@code indices}, in calls of at most {@value #MSRS_PER_CALL}: {index, value} pairs in the
     * order asked. KVM reads a list up to the first MSR it refuses (one the vCPU's CPUID does not offer, for
     * example); that index goes to {@code unreadable} and is left out, and reading goes on after it.
     */
    public long[][] getMsrs(int[] indices, IntConsumer unreadable) {
        List<long[]> out = new ArrayList<>(indices.length);
        int from = 0;
        while (from < indices.length) {
            int n = Math.min(MSRS_PER_CALL, indices.length - from);
            try (FlexArray a = new FlexArray(KvmMsrs.SIZEOF, KvmMsrEntry.SIZEOF, n)) {
                a.buffer().putInt(KvmMsrs.NMSRS, n);
                for (int i = 0; i < n; i++) {
                    a.buffer().putInt(a.entry(i) + KvmMsrEntry.INDEX, indices[from + i]);
                }
                int got = fd.ioctl("KVM_GET_MSRS", KVM_GET_MSRS, a.address(), ctx());
                for (int i = 0; i < got; i++) {
                    out.add(new long[] {indices[from + i] & 0xffffffffL, a.buffer().getLong(a.entry(i) + KvmMsrEntry.DATA)});
                }
                from += got;
                if (got < n) {
                    unreadable.accept(indices[from]);
                    from++;
                }
            }
        }
        return out.toArray(new long[0][]);
    }

    /** KVM_SET_FPU with the given x87 control word and MXCSR (everything else zero). */
    public void setFpu(int fcw, int mxcsr) {
        try (NativeBuffer b = new NativeBuffer(KvmFpu.SIZEOF)) {
            b.putShort(KvmFpu.FCW, fcw);
            b.putInt(KvmFpu.MXCSR, mxcsr);
            fd.ioctl("KVM_SET_FPU", KVM_SET_FPU, b.address(), ctx());
        }
    }

    /** KVM_GET_FPU: {@code struct kvm_fpu} (x87 and SSE state; XSAVE holds the same and more). */
    public byte[] getFpu() {
        return Blobs.get(fd, "KVM_GET_FPU", KVM_GET_FPU, KvmFpu.SIZEOF, ctx());
    }

    /** KVM_SET_FPU of a {@code struct kvm_fpu} as {@link #getFpu()} returned it. */
    public void setFpu(byte[] state) {
        Blobs.set(fd, "KVM_SET_FPU", KVM_SET_FPU, state, KvmFpu.SIZEOF, ctx());
    }

    /** KVM_GET_LAPIC: the 1 KiB register page. */
    public byte[] getLapic() {
        return Blobs.get(fd, "KVM_GET_LAPIC", KVM_GET_LAPIC, KvmLapicState.SIZEOF, ctx());
    }

    /** KVM_SET_LAPIC. */
    public void setLapic(byte[] regs) {
        Blobs.set(fd, "KVM_SET_LAPIC", KVM_SET_LAPIC, regs, KvmLapicState.SIZEOF, ctx());
    }

    /**
     * KVM_GET_MP_STATE: {@code KVM_MP_STATE_*} (runnable, halted, waiting for INIT/SIPI). The call also makes KVM
     * accept pending INIT and SIPI events, so a snapshot reads it before the rest.
     */
    public int getMpState() {
        try (NativeBuffer b = new NativeBuffer(KvmMpState.SIZEOF)) {
            fd.ioctl("KVM_GET_MP_STATE", KVM_GET_MP_STATE, b.address(), ctx());
            return b.getInt(KvmMpState.MP_STATE);
        }
    }

    /** KVM_SET_MP_STATE. */
    public void setMpState(int mpState) {
        try (NativeBuffer b = new NativeBuffer(KvmMpState.SIZEOF)) {
            b.putInt(KvmMpState.MP_STATE, mpState);
            fd.ioctl("KVM_SET_MP_STATE", KVM_SET_MP_STATE, b.address(), ctx() + " mp_state=" + mpState);
        }
    }

    /**
     * KVM_GET_XSAVE: the fixed 4 KiB {@code struct kvm_xsave}. KVM refuses it (EINVAL) when the vCPU's XSAVE state is
     * larger (dynamically enabled features such as AMX): then {@link #getXsave2(int)}.
     */
    public byte[] getXsave() {
        return Blobs.get(fd, "KVM_GET_XSAVE", KVM_GET_XSAVE, KvmXsave.SIZEOF, ctx());
    }

    /** KVM_GET_XSAVE2 (Linux 5.17): {@code size} bytes, the VM's {@link VmFd#xsaveSize()}. */
    public byte[] getXsave2(int size) {
        if (size < KvmXsave.SIZEOF) {
            throw new IllegalArgumentException("KVM_GET_XSAVE2: size " + size + " is below " + KvmXsave.SIZEOF);
        }
        return Blobs.get(fd, "KVM_GET_XSAVE2", KVM_GET_XSAVE2, size, ctx() + " size=" + size);
    }

    /**
     * KVM_SET_XSAVE. The kernel reads as many bytes as the VM's {@link VmFd#xsaveSize()}, which may exceed
     * {@code state}: the buffer is zero-padded to it (a component missing from the header's XSTATE_BV is loaded in
     * its initial state, so padding is what a smaller source meant).
     */
    public void setXsave(byte[] state) {
        if (state.length < KvmXsave.SIZEOF) {
            throw new IllegalArgumentException("KVM_SET_XSAVE: state of " + state.length + " bytes, at least "
                    + KvmXsave.SIZEOF + " needed");
        }
        int size = Math.max(state.length, vm.xsaveSize());
        try (NativeBuffer b = new NativeBuffer(size)) {
            b.put(0, state, 0, state.length);
            fd.ioctl("KVM_SET_XSAVE", KVM_SET_XSAVE, b.address(), ctx() + " size=" + state.length);
        }
    }

    /** KVM_GET_XCRS: {@code struct kvm_xcrs} (XCR0). */
    public byte[] getXcrs() {
        return Blobs.get(fd, "KVM_GET_XCRS", KVM_GET_XCRS, KvmXcrs.SIZEOF, ctx());
    }

    /** KVM_SET_XCRS. */
    public void setXcrs(byte[] state) {
        Blobs.set(fd, "KVM_SET_XCRS", KVM_SET_XCRS, state, KvmXcrs.SIZEOF, ctx());
    }

    /** KVM_GET_DEBUGREGS: {@code struct kvm_debugregs} (DR0-3, DR6, DR7). */
    public byte[] getDebugregs() {
        return Blobs.get(fd, "KVM_GET_DEBUGREGS", KVM_GET_DEBUGREGS, KvmDebugregs.SIZEOF, ctx());
    }

    /** KVM_SET_DEBUGREGS. */
    public void setDebugregs(byte[] state) {
        Blobs.set(fd, "KVM_SET_DEBUGREGS", KVM_SET_DEBUGREGS, state, KvmDebugregs.SIZEOF, ctx());
    }

    /** KVM_GET_VCPU_EVENTS: {@code struct kvm_vcpu_events}, with the flags that make KVM_SET_VCPU_EVENTS apply it all. */
    public byte[] getVcpuEvents() {
        return Blobs.get(fd, "KVM_GET_VCPU_EVENTS", KVM_GET_VCPU_EVENTS, KvmVcpuEvents.SIZEOF, ctx());
    }

    /** KVM_SET_VCPU_EVENTS. */
    public void setVcpuEvents(byte[] state) {
        Blobs.set(fd, "KVM_SET_VCPU_EVENTS", KVM_SET_VCPU_EVENTS, state, KvmVcpuEvents.SIZEOF, ctx());
    }

    /** KVM_GET_TSC_KHZ: the vCPU's guest TSC frequency. */
    public int getTscKhz() {
        return fd.ioctl("KVM_GET_TSC_KHZ", KVM_GET_TSC_KHZ, 0, ctx());
    }

    /** KVM_SET_TSC_KHZ: a frequency other than the host's needs TSC scaling (KVM_CAP_TSC_CONTROL). */
    public void setTscKhz(int khz) {
        fd.ioctl("KVM_SET_TSC_KHZ", KVM_SET_TSC_KHZ, khz, ctx() + " khz=" + khz);
    }

    /** KVM_GET_CPUID2: the CPUID the vCPU was given (empty when KVM_SET_CPUID2 was never called). */
    public List<CpuidEntry> getCpuid() {
        try (FlexArray a = new FlexArray(KvmCpuid2.SIZEOF, KvmCpuidEntry2.SIZEOF, Kvm.MAX_CPUID_ENTRIES)) {
            a.buffer().putInt(KvmCpuid2.NENT, Kvm.MAX_CPUID_ENTRIES);
            fd.ioctl("KVM_GET_CPUID2", KVM_GET_CPUID2, a.address(), ctx());
            int n = Math.min(a.buffer().getInt(KvmCpuid2.NENT), Kvm.MAX_CPUID_ENTRIES);
            List<CpuidEntry> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(CpuidEntry.read(a.buffer(), a.entry(i)));
            }
            return out;
        }
    }

    /**
     * KVM_KVMCLOCK_CTRL: tells the guest's kvmclock page that the vCPU was stopped by the host, so that the guest's
     * soft-lockup watchdog does not fire after a pause. Fails (EINVAL) when the guest has not enabled kvmclock;
     * callers tolerate that.
     */
    public void kvmclockCtrl() {
        fd.ioctl("KVM_KVMCLOCK_CTRL", KVM_KVMCLOCK_CTRL, 0, ctx());
    }

    /**
     * KVM_RUN with {@code immediate_exit} set: completes the I/O or MMIO of the last exit (an IN's data into RAX,
     * RIP past an OUT) without running guest code, as the KVM API asks before a vCPU's state is saved; otherwise the
     * saved RIP still points at the instruction and the restored vCPU repeats it. Returns {@link ExitReason#INTR}
     * when done; any other exit (a string I/O instruction with more to do) must be handled and this called again.
     * Leaves {@code immediate_exit} cleared.
     */
    public ExitReason completePendingIo() {
        setImmediateExit(true);
        try {
            return run();
        } finally {
            setImmediateExit(false);
        }
    }

    private String ctx() {
        return "vcpu " + id;
    }

    @Override
    public void close() {
        run.close();
        fd.close();
        regsBuf.close();
        sregsBuf.close();
    }
}

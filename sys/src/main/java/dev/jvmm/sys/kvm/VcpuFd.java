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
import dev.jvmm.sys.kvm.uapi.KvmFpu;
import dev.jvmm.sys.kvm.uapi.KvmLapicState;
import dev.jvmm.sys.kvm.uapi.KvmMsrEntry;
import dev.jvmm.sys.kvm.uapi.KvmMsrs;
import dev.jvmm.sys.kvm.uapi.KvmRegs;
import dev.jvmm.sys.kvm.uapi.KvmSregs;
import java.util.List;

/**
 * A vcpu fd and its mmap'd {@code kvm_run}. {@link #run()} returns an {@link ExitReason}; the exit's
 * details are read straight from {@code kvm_run} through the accessors, without allocation. Not thread-safe:
 * one thread runs one vcpu.
 */
public final class VcpuFd implements AutoCloseable {
    private final int id;
    private final Fd fd;
    private final Mmap run;
    private final long runAddr;
    private final NativeBuffer regsBuf = new NativeBuffer(KvmRegs.SIZEOF);
    private final NativeBuffer sregsBuf = new NativeBuffer(KvmSregs.SIZEOF);

    VcpuFd(int id, Fd fd, int mmapSize) {
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

    /** KVM_SET_MSRS; every MSR must be accepted, otherwise the first refused index is named. */
    public void setMsrs(long[][] indexAndValue) {
        try (FlexArray a = new FlexArray(KvmMsrs.SIZEOF, KvmMsrEntry.SIZEOF, indexAndValue.length)) {
            a.buffer().putInt(KvmMsrs.NMSRS, indexAndValue.length);
            for (int i = 0; i < indexAndValue.length; i++) {
                a.buffer().putInt(a.entry(i) + KvmMsrEntry.INDEX, (int) indexAndValue[i][0]);
                a.buffer().putLong(a.entry(i) + KvmMsrEntry.DATA, indexAndValue[i][1]);
            }
            int n = fd.ioctl("KVM_SET_MSRS", KVM_SET_MSRS, a.address(), "vcpu " + id);
            if (n != indexAndValue.length) {
                throw new ErrnoException("KVM_SET_MSRS", Errno.EINVAL,
                        String.format("vcpu %d: MSR 0x%x refused (%d of %d set)", id, indexAndValue[n][0], n,
                                indexAndValue.length));
            }
        }
    }

    /** KVM_GET_MSRS for one MSR. */
    public long getMsr(int index) {
        try (FlexArray a = new FlexArray(KvmMsrs.SIZEOF, KvmMsrEntry.SIZEOF, 1)) {
            a.buffer().putInt(KvmMsrs.NMSRS, 1);
            a.buffer().putInt(a.entry(0) + KvmMsrEntry.INDEX, index);
            int n = fd.ioctl("KVM_GET_MSRS", KVM_GET_MSRS, a.address(), "vcpu " + id);
            if (n != 1) {
                throw new ErrnoException("KVM_GET_MSRS", Errno.EINVAL, String.format("vcpu %d: MSR 0x%x", id, index));
            }
            return a.buffer().getLong(a.entry(0) + KvmMsrEntry.DATA);
        }
    }

    /** KVM_SET_FPU with the given x87 control word and MXCSR (everything else zero). */
    public void setFpu(int fcw, int mxcsr) {
        try (NativeBuffer b = new NativeBuffer(KvmFpu.SIZEOF)) {
            b.putShort(KvmFpu.FCW, fcw);
            b.putInt(KvmFpu.MXCSR, mxcsr);
            fd.ioctl("KVM_SET_FPU", KVM_SET_FPU, b.address(), "vcpu " + id);
        }
    }

    /** KVM_GET_LAPIC: the 1 KiB register page. */
    public byte[] getLapic() {
        try (NativeBuffer b = new NativeBuffer(KvmLapicState.SIZEOF)) {
            fd.ioctl("KVM_GET_LAPIC", KVM_GET_LAPIC, b.address(), "vcpu " + id);
            byte[] regs = new byte[KvmLapicState.SIZEOF];
            b.get(0, regs, 0, regs.length);
            return regs;
        }
    }

    /** KVM_SET_LAPIC. */
    public void setLapic(byte[] regs) {
        if (regs.length != KvmLapicState.SIZEOF) {
            throw new IllegalArgumentException("LAPIC state must be " + KvmLapicState.SIZEOF + " bytes");
        }
        try (NativeBuffer b = new NativeBuffer(KvmLapicState.SIZEOF)) {
            b.put(0, regs, 0, regs.length);
            fd.ioctl("KVM_SET_LAPIC", KVM_SET_LAPIC, b.address(), "vcpu " + id);
        }
    }

    @Override
    public void close() {
        run.close();
        fd.close();
        regsBuf.close();
        sregsBuf.close();
    }
}

package dev.jvmm.sys.kvm;

import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.kvm.uapi.KvmDebugregs;
import dev.jvmm.sys.kvm.uapi.KvmLapicState;
import dev.jvmm.sys.kvm.uapi.KvmRegs;
import dev.jvmm.sys.kvm.uapi.KvmSregs;
import dev.jvmm.sys.kvm.uapi.KvmVcpuEvents;
import dev.jvmm.sys.kvm.uapi.KvmXcrs;
import dev.jvmm.sys.kvm.uapi.KvmXsave;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything KVM holds for one x86 vCPU that a snapshot or migration must carry: MP state, registers, XSAVE area
 * (x87/SSE/AVX...), XCRs, debug registers, LAPIC page, TSC frequency, CPUID, MSRs and pending events. The kernel's
 * structs are kept as {@code byte[]} copies (only the registers are typed); {@link #capture} and {@link #restore}
 * run the ioctls in the orders Firecracker and Cloud Hypervisor use, and {@link #write} / {@link #read} give it a
 * stable binary form. The {@code byte[]} and {@link Regs}/{@link Sregs} components are shared, not copied: treat
 * them as read-only. Equality is by identity.
 *
 * <p>FPU state is not separate: XSAVE holds it. Nested-virtualisation state (KVM_GET_NESTED_STATE) is not captured.
 *
 * @param vcpuId the KVM vCPU id it was taken from (its APIC id); it is restored only into the same id
 * @param mpState {@code KVM_MP_STATE_*}
 * @param xsave {@code struct kvm_xsave}, 4096 bytes or the VM's {@link VmFd#xsaveSize()}
 * @param tscKhz the guest TSC frequency
 * @param msrs {index, value} pairs, in the order KVM_GET_MSR_INDEX_LIST gave
 */
public record VcpuState(int vcpuId, int mpState, Regs regs, Sregs sregs, byte[] xsave, byte[] xcrs, byte[] debugregs,
        byte[] lapic, int tscKhz, List<CpuidEntry> cpuid, long[][] msrs, byte[] vcpuEvents) {
    /** "JVCP". */
    static final int MAGIC = 0x4A564350;
    /** Format version of {@link #write}; {@link #read} accepts this one only. */
    public static final int VERSION = 1;
    /** A TSC frequency within 250 ppm of the destination's needs no KVM_SET_TSC_KHZ (KVM's own tolerance). */
    static final long TSC_KHZ_TOLERANCE_PPM = 250;

    public VcpuState {
        if (regs == null || sregs == null || cpuid == null || msrs == null) {
            throw new IllegalArgumentException("vcpu " + vcpuId + ": regs, sregs, cpuid and msrs are required");
        }
        if (xsave == null || xsave.length < KvmXsave.SIZEOF) {
            throw new IllegalArgumentException("vcpu " + vcpuId + ": xsave must be at least " + KvmXsave.SIZEOF + " bytes");
        }
        Blobs.requireLength("vcpu " + vcpuId + " xcrs", xcrs, KvmXcrs.SIZEOF);
        Blobs.requireLength("vcpu " + vcpuId + " debugregs", debugregs, KvmDebugregs.SIZEOF);
        Blobs.requireLength("vcpu " + vcpuId + " lapic", lapic, KvmLapicState.SIZEOF);
        Blobs.requireLength("vcpu " + vcpuId + " vcpu_events", vcpuEvents, KvmVcpuEvents.SIZEOF);
        for (long[] m : msrs) {
            if (m == null || m.length != 2) {
                throw new IllegalArgumentException("vcpu " + vcpuId + ": each MSR is {index, value}");
            }
        }
        cpuid = List.copyOf(cpuid);
    }

    /**
     * Reads the state of a vCPU that is out of KVM_RUN and has no I/O pending ({@link VcpuFd#completePendingIo()}
     * after an I/O or MMIO exit). Order: MP_STATE first (it accepts pending INIT/SIPI), REGS, SREGS, XSAVE(2),
     * XCRS, DEBUGREGS, LAPIC, TSC_KHZ, CPUID2, MSRS, VCPU_EVENTS last. MSRs in {@code kvm}'s index list that KVM
     * will not read for this vCPU are left out.
     *
     * @param xsaveSize the VM's {@link VmFd#xsaveSize()}: above 4096 KVM_GET_XSAVE2 is used, else KVM_GET_XSAVE
     */
    public static VcpuState capture(VcpuFd vcpu, Kvm kvm, int xsaveSize) {
        int mpState = vcpu.getMpState();
        Regs regs = vcpu.getRegs();
        Sregs sregs = vcpu.getSregs();
        byte[] xsave = xsaveSize > KvmXsave.SIZEOF ? vcpu.getXsave2(xsaveSize) : vcpu.getXsave();
        byte[] xcrs = vcpu.getXcrs();
        byte[] debugregs = vcpu.getDebugregs();
        byte[] lapic = vcpu.getLapic();
        int tscKhz = vcpu.getTscKhz();
        List<CpuidEntry> cpuid = vcpu.getCpuid();
        long[][] msrs = vcpu.getMsrs(kvm.msrIndexList(), index -> { });
        byte[] events = vcpu.getVcpuEvents();
        return new VcpuState(vcpu.id(), mpState, regs, sregs, xsave, xcrs, debugregs, lapic, tscKhz, cpuid, msrs, events);
    }

    /**
     * Loads this state into {@code vcpu}, a vCPU with the same id that has not run. Order: CPUID2, MP_STATE, REGS,
     * SREGS, XSAVE, XCRS, DEBUGREGS, LAPIC (after SREGS, which sets the APIC base), TSC_KHZ when the frequency
     * differs, MSRS (after LAPIC, for the TSC deadline), VCPU_EVENTS last (setting registers clears pending
     * exceptions), then KVMCLOCK_CTRL, whose failure (a guest without kvmclock) is ignored. A failing step throws
     * the {@link ErrnoException} of its ioctl.
     */
    public void restore(VcpuFd vcpu) {
        if (vcpu.id() != vcpuId) {
            throw new IllegalArgumentException("state of vcpu " + vcpuId + " cannot be restored into vcpu " + vcpu.id());
        }
        vcpu.setCpuid(cpuid);
        vcpu.setMpState(mpState);
        vcpu.setRegs(regs);
        vcpu.setSregs(sregs);
        vcpu.setXsave(xsave);
        vcpu.setXcrs(xcrs);
        vcpu.setDebugregs(debugregs);
        vcpu.setLapic(lapic);
        if (tscKhz > 0) {
            long current = vcpu.getTscKhz();
            if (Math.abs(current - tscKhz) * 1_000_000L > tscKhz * TSC_KHZ_TOLERANCE_PPM) {
                vcpu.setTscKhz(tscKhz);
            }
        }
        vcpu.setMsrs(msrs);
        vcpu.setVcpuEvents(vcpuEvents);
        try {
            vcpu.kvmclockCtrl();
        } catch (ErrnoException e) {
            // EINVAL: the guest has not enabled kvmclock, so there is no pause flag to set
        }
    }

    /**
     * Writes format {@value #VERSION}: magic "JVCP", version, vcpu id, MP state, then regs, sregs, xsave, xcrs,
     * debugregs and lapic as length-prefixed blobs, the TSC kHz, the CPUID entries (count, then function, index,
     * flags, eax, ebx, ecx, edx each), the MSRs (count, then index as 32 bits and value as 64), and the vCPU events
     * blob. Integers big-endian, as {@link DataOutput} writes them; blobs in the kernel's (x86-64) struct layout.
     */
    public void write(DataOutput out) throws IOException {
        StateCodec.header(out, MAGIC, VERSION);
        out.writeInt(vcpuId);
        out.writeInt(mpState);
        StateCodec.blob(out, regs.toBytes());
        StateCodec.blob(out, sregs.toBytes());
        StateCodec.blob(out, xsave);
        StateCodec.blob(out, xcrs);
        StateCodec.blob(out, debugregs);
        StateCodec.blob(out, lapic);
        out.writeInt(tscKhz);
        out.writeInt(cpuid.size());
        for (CpuidEntry e : cpuid) {
            for (int v : new int[] {e.function(), e.index(), e.flags(), e.eax(), e.ebx(), e.ecx(), e.edx()}) {
                out.writeInt(v);
            }
        }
        out.writeInt(msrs.length);
        for (long[] m : msrs) {
            out.writeInt((int) m[0]);
            out.writeLong(m[1]);
        }
        StateCodec.blob(out, vcpuEvents);
    }

    /**
     * Reads what {@link #write} wrote. Every length and count is checked against {@code limits} (or the exact struct
     * size) before anything is allocated; a bad stream throws {@link StateFormatException} naming the field.
     */
    public static VcpuState read(DataInput in, StateLimits limits) throws IOException {
        StateCodec.Reader r = new StateCodec.Reader(in, "VcpuState");
        r.header(MAGIC, VERSION);
        int vcpuId = r.readInt("vcpu_id");
        int mpState = r.readInt("mp_state");
        Regs regs = Regs.fromBytes(r.blob("regs", KvmRegs.SIZEOF));
        Sregs sregs = Sregs.fromBytes(r.blob("sregs", KvmSregs.SIZEOF));
        byte[] xsave = r.blob("xsave", KvmXsave.SIZEOF, limits.maxXsaveBytes());
        byte[] xcrs = r.blob("xcrs", KvmXcrs.SIZEOF);
        byte[] debugregs = r.blob("debugregs", KvmDebugregs.SIZEOF);
        byte[] lapic = r.blob("lapic", KvmLapicState.SIZEOF);
        int tscKhz = r.readInt("tsc_khz");
        int ncpuid = r.count("cpuid", limits.maxCpuidEntries());
        List<CpuidEntry> cpuid = new ArrayList<>(ncpuid);
        for (int i = 0; i < ncpuid; i++) {
            String f = "cpuid[" + i + "]";
            cpuid.add(new CpuidEntry(r.readInt(f + ".function"), r.readInt(f + ".index"), r.readInt(f + ".flags"),
                    r.readInt(f + ".eax"), r.readInt(f + ".ebx"), r.readInt(f + ".ecx"), r.readInt(f + ".edx")));
        }
        int nmsrs = r.count("msrs", limits.maxMsrs());
        long[][] msrs = new long[nmsrs][];
        for (int i = 0; i < nmsrs; i++) {
            long index = r.readInt("msrs[" + i + "].index") & 0xffffffffL;
            msrs[i] = new long[] {index, r.readLong("msrs[" + i + "].value")};
        }
        byte[] events = r.blob("vcpu_events", KvmVcpuEvents.SIZEOF);
        return new VcpuState(vcpuId, mpState, regs, sregs, xsave, xcrs, debugregs, lapic, tscKhz, cpuid, msrs, events);
    }
}

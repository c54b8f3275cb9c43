package dev.jvmm.sys.kvm;

import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import static dev.jvmm.sys.kvm.uapi.KvmConstants.KVM_IRQCHIP_IOAPIC;
import static dev.jvmm.sys.kvm.uapi.KvmConstants.KVM_IRQCHIP_PIC_MASTER;
import static dev.jvmm.sys.kvm.uapi.KvmConstants.KVM_IRQCHIP_PIC_SLAVE;

import dev.jvmm.sys.kvm.uapi.KvmIrqchip;
import dev.jvmm.sys.kvm.uapi.KvmPitState2;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * The VM-wide state KVM holds for a VM with the full in-kernel irqchip (KVM_CREATE_IRQCHIP) and PIT
 * (KVM_CREATE_PIT2): the PIT, the kvmclock, and the PIC master, PIC slave and IOAPIC, each as the kernel's struct
 * copied to {@code byte[]} (irqchips: the 512-byte {@code chip} union). Captured and restored in Firecracker's order;
 * {@link #write} / {@link #read} give it a stable binary form. The arrays are shared, not copied: treat them as
 * read-only. Equality is by identity.
 */
public record VmState(byte[] pit2, ClockData clock, byte[] picMaster, byte[] picSlave, byte[] ioapic) {
    /** "JVVM". */
    static final int MAGIC = 0x4A56564D;
    /** Format version of {@link #write}; {@link #read} accepts this one only. */
    public static final int VERSION = 1;

    public VmState {
        Blobs.requireLength("pit2", pit2, KvmPitState2.SIZEOF);
        Blobs.requireLength("pic_master", picMaster, KvmIrqchip.CHIP_SIZE);
        Blobs.requireLength("pic_slave", picSlave, KvmIrqchip.CHIP_SIZE);
        Blobs.requireLength("ioapic", ioapic, KvmIrqchip.CHIP_SIZE);
        if (clock == null) {
            throw new IllegalArgumentException("clock is required");
        }
    }

    /** Reads the state of a paused VM (no vCPU in KVM_RUN): GET_PIT2, GET_CLOCK, GET_IRQCHIP x3. */
    public static VmState capture(VmFd vm) {
        byte[] pit2 = vm.getPit2();
        ClockData clock = vm.getClockData();
        return new VmState(pit2, clock, vm.getIrqchip(KVM_IRQCHIP_PIC_MASTER), vm.getIrqchip(KVM_IRQCHIP_PIC_SLAVE),
                vm.getIrqchip(KVM_IRQCHIP_IOAPIC));
    }

    /**
     * Loads this state into {@code vm} (created with the in-kernel irqchip and PIT2, vCPUs not yet running): SET_PIT2,
     * SET_CLOCK (the captured clock, so guest time goes on from where it stopped), SET_IRQCHIP for PIC master, PIC
     * slave, IOAPIC. A failing step throws the ErrnoException of its ioctl.
     */
    public void restore(VmFd vm) {
        restore(vm, false);
    }

    /**
     * As {@link #restore(VmFd)}; with {@code advanceClockByRealtime} the clock is set with KVM_CLOCK_REALTIME, so the
     * kernel adds the wall-clock time that passed since the capture (live migration; needs Linux 5.16 and a clock
     * captured with a realtime).
     */
    public void restore(VmFd vm, boolean advanceClockByRealtime) {
        vm.setPit2(pit2);
        vm.setClockData(advanceClockByRealtime ? clock.advancingByRealtime() : ClockData.of(clock.clock()));
        vm.setIrqchip(KVM_IRQCHIP_PIC_MASTER, picMaster);
        vm.setIrqchip(KVM_IRQCHIP_PIC_SLAVE, picSlave);
        vm.setIrqchip(KVM_IRQCHIP_IOAPIC, ioapic);
    }

    /**
     * Writes format {@value #VERSION}: magic "JVVM", version, the PIT blob, the clock (clock, flags, realtime,
     * host TSC), then the PIC master, PIC slave and IOAPIC blobs; blobs length-prefixed, integers big-endian.
     */
    public void write(DataOutput out) throws IOException {
        StateCodec.header(out, MAGIC, VERSION);
        StateCodec.blob(out, pit2);
        out.writeLong(clock.clock());
        out.writeInt(clock.flags());
        out.writeLong(clock.realtime());
        out.writeLong(clock.hostTsc());
        StateCodec.blob(out, picMaster);
        StateCodec.blob(out, picSlave);
        StateCodec.blob(out, ioapic);
    }

    /**
     * Reads what {@link #write} wrote. Every blob has the exact size of its kernel struct, checked before it is
     * allocated, so no limits are needed; a bad stream throws {@link StateFormatException} naming the field.
     */
    public static VmState read(DataInput in) throws IOException {
        StateCodec.Reader r = new StateCodec.Reader(in, "VmState");
        r.header(MAGIC, VERSION);
        byte[] pit2 = r.blob("pit2", KvmPitState2.SIZEOF);
        ClockData clock = new ClockData(r.readLong("clock.clock"), r.readInt("clock.flags"),
                r.readLong("clock.realtime"), r.readLong("clock.host_tsc"));
        byte[] master = r.blob("pic_master", KvmIrqchip.CHIP_SIZE);
        byte[] slave = r.blob("pic_slave", KvmIrqchip.CHIP_SIZE);
        byte[] ioapic = r.blob("ioapic", KvmIrqchip.CHIP_SIZE);
        return new VmState(pit2, clock, master, slave, ioapic);
    }
}

package dev.jvmm.sys.kvm;

import static dev.jvmm.sys.kvm.uapi.KvmIoctls.*;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.FlexArray;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.kvm.uapi.KvmClockData;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import dev.jvmm.sys.kvm.uapi.KvmDirtyLog;
import dev.jvmm.sys.kvm.uapi.KvmIoeventfd;
import dev.jvmm.sys.kvm.uapi.KvmIrqLevel;
import dev.jvmm.sys.kvm.uapi.KvmIrqRouting;
import dev.jvmm.sys.kvm.uapi.KvmIrqRoutingEntry;
import dev.jvmm.sys.kvm.uapi.KvmIrqchip;
import dev.jvmm.sys.kvm.uapi.KvmIrqfd;
import dev.jvmm.sys.kvm.uapi.KvmMsi;
import dev.jvmm.sys.kvm.uapi.KvmPitConfig;
import dev.jvmm.sys.kvm.uapi.KvmPitState2;
import dev.jvmm.sys.kvm.uapi.KvmUserspaceMemoryRegion;
import dev.jvmm.sys.kvm.uapi.KvmXsave;
import java.util.List;

/**
 * A VM fd: thin wrappers over the VM ioctls. Callers that need ownership (memory slots, irqfds,
 * ioeventfds) wrap these in closeable registrations (vm-core, irq-routing). The VM-wide state a snapshot needs
 * (irqchips, PIT, clock) comes out and goes back in as the kernel's structs, copied to {@code byte[]}; see
 * {@link VmState}.
 */
public final class VmFd implements AutoCloseable {
    private final Kvm kvm;
    private final Fd fd;
    /** Scratch for the small fixed-size ioctl arguments; guarded by {@code this}. */
    private final NativeBuffer arg = new NativeBuffer(64);

    VmFd(Kvm kvm, Fd fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    public Kvm kvm() {
        return kvm;
    }

    public Fd fd() {
        return fd;
    }

    /** KVM_CREATE_VCPU, then mmap of its {@code kvm_run}. */
    public VcpuFd createVcpu(int id) {
        int r = Native.LIBC.ioctl(fd.fd(), KVM_CREATE_VCPU, id);
        if (r < 0) {
            throw new ErrnoException("KVM_CREATE_VCPU", Native.errno(), "id=" + id);
        }
        Fd vcpu = new Fd(r, "kvm-vcpu-" + id);
        try {
            return new VcpuFd(this, id, vcpu, kvm.vcpuMmapSize());
        } catch (RuntimeException e) {
            vcpu.close();
            throw e;
        }
    }

    /** KVM_SET_USER_MEMORY_REGION; a size of 0 deletes the slot. */
    public synchronized void setUserMemoryRegion(int slot, int flags, long guestPhysAddr, long memorySize,
            long userspaceAddr) {
        arg.clear();
        arg.putInt(KvmUserspaceMemoryRegion.SLOT, slot);
        arg.putInt(KvmUserspaceMemoryRegion.FLAGS, flags);
        arg.putLong(KvmUserspaceMemoryRegion.GUEST_PHYS_ADDR, guestPhysAddr);
        arg.putLong(KvmUserspaceMemoryRegion.MEMORY_SIZE, memorySize);
        arg.putLong(KvmUserspaceMemoryRegion.USERSPACE_ADDR, userspaceAddr);
        fd.ioctl("KVM_SET_USER_MEMORY_REGION", KVM_SET_USER_MEMORY_REGION, arg.address(),
                "slot=" + slot + " gpa=0x" + Long.toHexString(guestPhysAddr) + " size=0x" + Long.toHexString(memorySize)
                        + " hva=0x" + Long.toHexString(userspaceAddr));
    }

    /**
     * KVM_GET_DIRTY_LOG: copies the dirty bitmap of memory slot {@code slot} to {@code bitmapAddress} and clears it
     * in the kernel, so each call returns the pages the guest wrote since the previous one (or since the slot was
     * registered with {@link KvmConstants#KVM_MEM_LOG_DIRTY_PAGES}). The bitmap has one bit per 4 KiB page of the slot
     * (page {@code i} is bit {@code i % 64} of 64-bit word {@code i / 64}); the buffer must hold
     * {@code (pages + 63) / 64 * 8} bytes, all of which the kernel writes. Only guest writes (and KVM's own, such as
     * kvmclock or steal time) are logged: the VMM's writes through the host mapping are not. Fails with ENOENT when the
     * slot does not log dirty pages.
     */
    public synchronized void getDirtyLog(int slot, long bitmapAddress) {
        arg.clear();
        arg.putInt(KvmDirtyLog.SLOT, slot);
        arg.putLong(KvmDirtyLog.DIRTY_BITMAP, bitmapAddress);
        fd.ioctl("KVM_GET_DIRTY_LOG", KVM_GET_DIRTY_LOG, arg.address(), "slot=" + slot);
    }

    /** KVM_CREATE_IRQCHIP: in-kernel PIC, IOAPIC and LAPICs. */
    public void createIrqchip() {
        fd.ioctl("KVM_CREATE_IRQCHIP", KVM_CREATE_IRQCHIP, 0);
    }

    /** KVM_CREATE_PIT2 with {@code flags} (for example {@link KvmConstants#KVM_PIT_SPEAKER_DUMMY}). */
    public synchronized void createPit2(int flags) {
        arg.clear();
        arg.putInt(KvmPitConfig.FLAGS, flags);
        fd.ioctl("KVM_CREATE_PIT2", KVM_CREATE_PIT2, arg.address(), "flags=" + flags);
    }

    /** KVM_SET_TSS_ADDR: three pages of guest-physical space the VM must leave unused (Intel). */
    public void setTssAddr(long addr) {
        fd.ioctl("KVM_SET_TSS_ADDR", KVM_SET_TSS_ADDR, addr, "addr=0x" + Long.toHexString(addr));
    }

    /** KVM_SET_IDENTITY_MAP_ADDR: one page for the EPT identity map (Intel). */
    public synchronized void setIdentityMapAddr(long addr) {
        arg.putLong(0, addr);
        fd.ioctl("KVM_SET_IDENTITY_MAP_ADDR", KVM_SET_IDENTITY_MAP_ADDR, arg.address(),
                "addr=0x" + Long.toHexString(addr));
    }

    /**
     * KVM_GET_CLOCK: the guest's kvmclock in nanoseconds (what its clocksource reads), for holding guest time
     * still while the VM is paused.
     */
    public long getClock() {
        return getClockData().clock();
    }

    /** KVM_SET_CLOCK: sets the guest's kvmclock to {@code nanos} (flags 0). */
    public void setClock(long nanos) {
        setClockData(ClockData.of(nanos));
    }

    /** KVM_GET_CLOCK with everything the kernel fills in: clock, flags, realtime and host TSC. */
    public synchronized ClockData getClockData() {
        clearArg(KvmClockData.SIZEOF);
        fd.ioctl("KVM_GET_CLOCK", KVM_GET_CLOCK, arg.address());
        return new ClockData(arg.getLong(KvmClockData.CLOCK), arg.getInt(KvmClockData.FLAGS),
                arg.getLong(KvmClockData.REALTIME), arg.getLong(KvmClockData.HOST_TSC));
    }

    /**
     * KVM_SET_CLOCK with {@code c}'s clock, flags and realtime. Kernels before 5.16 refuse any flag; later ones accept
     * the flags KVM_GET_CLOCK returns and act on {@code KVM_CLOCK_REALTIME} only (see {@link ClockData#advancingByRealtime}).
     */
    public synchronized void setClockData(ClockData c) {
        clearArg(KvmClockData.SIZEOF);
        arg.putLong(KvmClockData.CLOCK, c.clock());
        arg.putInt(KvmClockData.FLAGS, c.flags());
        arg.putLong(KvmClockData.REALTIME, c.realtime());
        arg.putLong(KvmClockData.HOST_TSC, c.hostTsc());
        fd.ioctl("KVM_SET_CLOCK", KVM_SET_CLOCK, arg.address(),
                "clock=" + c.clock() + " flags=0x" + Integer.toHexString(c.flags()));
    }

    private void clearArg(int size) {
        for (int i = 0; i < size; i += 8) {
            arg.putLong(i, 0);
        }
    }

    /**
     * KVM_GET_IRQCHIP of the in-kernel PIC master, PIC slave or IOAPIC ({@code KVM_IRQCHIP_*}): the
     * {@value KvmIrqchip#CHIP_SIZE}-byte {@code chip} union, copied out.
     */
    public byte[] getIrqchip(int chipId) {
        try (NativeBuffer b = new NativeBuffer(KvmIrqchip.SIZEOF)) {
            b.putInt(KvmIrqchip.CHIP_ID, chipId);
            fd.ioctl("KVM_GET_IRQCHIP", KVM_GET_IRQCHIP, b.address(), "chip_id=" + chipId);
            byte[] chip = new byte[KvmIrqchip.CHIP_SIZE];
            b.get(KvmIrqchip.CHIP, chip, 0, chip.length);
            return chip;
        }
    }

    /** KVM_SET_IRQCHIP: loads {@code chip} (as {@link #getIrqchip} returned it) into irqchip {@code chipId}. */
    public void setIrqchip(int chipId, byte[] chip) {
        Blobs.requireLength("irqchip " + chipId, chip, KvmIrqchip.CHIP_SIZE);
        try (NativeBuffer b = new NativeBuffer(KvmIrqchip.SIZEOF)) {
            b.putInt(KvmIrqchip.CHIP_ID, chipId);
            b.put(KvmIrqchip.CHIP, chip, 0, chip.length);
            fd.ioctl("KVM_SET_IRQCHIP", KVM_SET_IRQCHIP, b.address(), "chip_id=" + chipId);
        }
    }

    /** KVM_GET_PIT2: the in-kernel PIT's {@code struct kvm_pit_state2}, copied out. */
    public byte[] getPit2() {
        return Blobs.get(fd, "KVM_GET_PIT2", KVM_GET_PIT2, KvmPitState2.SIZEOF, "vm");
    }

    /** KVM_SET_PIT2. The kernel restarts each channel's count from now ({@code count_load_time} is not taken). */
    public void setPit2(byte[] state) {
        Blobs.set(fd, "KVM_SET_PIT2", KVM_SET_PIT2, state, KvmPitState2.SIZEOF, "vm");
    }

    /**
     * Bytes of XSAVE state this VM's vCPUs move: KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) on the VM fd, or 4096 (the
     * fixed {@code struct kvm_xsave}) on kernels without that capability.
     */
    public int xsaveSize() {
        int n = checkExtension(KvmConstants.KVM_CAP_XSAVE2);
        return Math.max(n, KvmXsave.SIZEOF);
    }

    /** KVM_IRQFD: assign (or, with {@code KVM_IRQFD_FLAG_DEASSIGN}, remove) an eventfd as a GSI trigger. */
    public synchronized void irqfd(int eventFd, int gsi, int flags, int resampleFd) {
        arg.clear();
        arg.putInt(KvmIrqfd.FD, eventFd);
        arg.putInt(KvmIrqfd.GSI, gsi);
        arg.putInt(KvmIrqfd.FLAGS, flags);
        arg.putInt(KvmIrqfd.RESAMPLEFD, resampleFd);
        fd.ioctl("KVM_IRQFD", KVM_IRQFD, arg.address(),
                "gsi=" + gsi + " fd=" + eventFd + " flags=" + flags + (resampleFd > 0 ? " resamplefd=" + resampleFd : ""));
    }

    /** KVM_IOEVENTFD: a guest write of {@code len} bytes at {@code addr} signals {@code eventFd} in the kernel. */
    public synchronized void ioeventfd(long datamatch, long addr, int len, int eventFd, int flags) {
        arg.clear();
        arg.putLong(KvmIoeventfd.DATAMATCH, datamatch);
        arg.putLong(KvmIoeventfd.ADDR, addr);
        arg.putInt(KvmIoeventfd.LEN, len);
        arg.putInt(KvmIoeventfd.FD, eventFd);
        arg.putInt(KvmIoeventfd.FLAGS, flags);
        fd.ioctl("KVM_IOEVENTFD", KVM_IOEVENTFD, arg.address(),
                "addr=0x" + Long.toHexString(addr) + " len=" + len + " fd=" + eventFd + " flags=0x" + Integer.toHexString(flags));
    }

    /** One GSI routing table entry for {@link #setGsiRouting(List)}. */
    public record RoutingEntry(int gsi, int type, int flags, int u0, int u1, int u2, int u3) {
        public static RoutingEntry msi(int gsi, long address, int data) {
            return new RoutingEntry(gsi, KvmConstants.KVM_IRQ_ROUTING_MSI, 0, (int) address, (int) (address >>> 32), data, 0);
        }

        public static RoutingEntry irqchip(int gsi, int irqchip, int pin) {
            return new RoutingEntry(gsi, KvmConstants.KVM_IRQ_ROUTING_IRQCHIP, 0, irqchip, pin, 0, 0);
        }
    }

    /** KVM_SET_GSI_ROUTING: replaces the whole routing table. */
    public void setGsiRouting(List<RoutingEntry> entries) {
        try (FlexArray a = new FlexArray(KvmIrqRouting.SIZEOF, KvmIrqRoutingEntry.SIZEOF, entries.size())) {
            a.buffer().putInt(KvmIrqRouting.NR, entries.size());
            for (int i = 0; i < entries.size(); i++) {
                RoutingEntry e = entries.get(i);
                long o = a.entry(i);
                a.buffer().putInt(o + KvmIrqRoutingEntry.GSI, e.gsi());
                a.buffer().putInt(o + KvmIrqRoutingEntry.TYPE, e.type());
                a.buffer().putInt(o + KvmIrqRoutingEntry.FLAGS, e.flags());
                a.buffer().putInt(o + KvmIrqRoutingEntry.MSI_ADDRESS_LO, e.u0());
                a.buffer().putInt(o + KvmIrqRoutingEntry.MSI_ADDRESS_HI, e.u1());
                a.buffer().putInt(o + KvmIrqRoutingEntry.MSI_DATA, e.u2());
                a.buffer().putInt(o + KvmIrqRoutingEntry.MSI_DEVID, e.u3());
            }
            fd.ioctl("KVM_SET_GSI_ROUTING", KVM_SET_GSI_ROUTING, a.address(), "entries=" + entries.size());
        }
    }

    /** KVM_IRQ_LINE: drive an irqchip input pin. */
    public synchronized void irqLine(int irq, int level) {
        arg.putInt(KvmIrqLevel.IRQ, irq);
        arg.putInt(KvmIrqLevel.LEVEL, level);
        fd.ioctl("KVM_IRQ_LINE", KVM_IRQ_LINE, arg.address(), "irq=" + irq + " level=" + level);
    }

    /** KVM_SIGNAL_MSI: inject one MSI; returns &gt;0 when delivered, 0 when the guest blocked it. */
    public synchronized int signalMsi(long address, int data) {
        arg.clear();
        arg.putInt(KvmMsi.ADDRESS_LO, (int) address);
        arg.putInt(KvmMsi.ADDRESS_HI, (int) (address >>> 32));
        arg.putInt(KvmMsi.DATA, data);
        int r = Native.LIBC.ioctl(fd.fd(), KVM_SIGNAL_MSI, arg.address()); // no context string unless it fails
        if (r < 0) {
            throw new ErrnoException("KVM_SIGNAL_MSI", Native.errno(),
                    "address=0x" + Long.toHexString(address) + " data=0x" + Integer.toHexString(data));
        }
        return r;
    }

    /**
     * KVM_CREATE_DEVICE of {@code type} ({@code KVM_DEV_TYPE_*}): an in-kernel device such as the KVM-VFIO pseudo
     * device. The caller owns the returned device fd.
     */
    public synchronized KvmDevice createDevice(int type) {
        arg.clear();
        arg.putInt(dev.jvmm.sys.kvm.uapi.KvmCreateDevice.TYPE, type);
        fd.ioctl("KVM_CREATE_DEVICE", KVM_CREATE_DEVICE, arg.address(), "type=" + type);
        return new KvmDevice(new Fd(arg.getInt(dev.jvmm.sys.kvm.uapi.KvmCreateDevice.FD), "kvm-device-" + type), type);
    }

    /** KVM_CHECK_EXTENSION on the VM (some capabilities are per VM). */
    public int checkExtension(int cap) {
        return fd.ioctl("KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION, cap, "cap=" + cap);
    }

    @Override
    public void close() {
        fd.close();
        arg.close();
    }
}

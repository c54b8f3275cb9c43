package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.Ioctl;
import dev.jvmm.sys.uapi.CConstants;

/** KVM ioctl request numbers, encoded from the struct sizes; each is checked against {@code <linux/kvm.h>}. */
@CConstants(headers = "linux/kvm.h")
public final class KvmIoctls {
    public static final int KVMIO = 0xAE;

    // system ioctls (on /dev/kvm)
    public static final long KVM_GET_API_VERSION = Ioctl.io(KVMIO, 0x00);
    public static final long KVM_CREATE_VM = Ioctl.io(KVMIO, 0x01);
    public static final long KVM_CHECK_EXTENSION = Ioctl.io(KVMIO, 0x03);
    public static final long KVM_GET_VCPU_MMAP_SIZE = Ioctl.io(KVMIO, 0x04);
    public static final long KVM_GET_MSR_INDEX_LIST = Ioctl.iowr(KVMIO, 0x02, KvmMsrList.SIZEOF);
    public static final long KVM_GET_SUPPORTED_CPUID = Ioctl.iowr(KVMIO, 0x05, KvmCpuid2.SIZEOF);

    // vm ioctls
    public static final long KVM_CREATE_VCPU = Ioctl.io(KVMIO, 0x41);
    /** Copies a memory slot's dirty bitmap out and clears it in the kernel (the pages are write-protected again). */
    public static final long KVM_GET_DIRTY_LOG = Ioctl.iow(KVMIO, 0x42, KvmDirtyLog.SIZEOF);
    public static final long KVM_SET_USER_MEMORY_REGION = Ioctl.iow(KVMIO, 0x46, KvmUserspaceMemoryRegion.SIZEOF);
    public static final long KVM_SET_TSS_ADDR = Ioctl.io(KVMIO, 0x47);
    public static final long KVM_SET_IDENTITY_MAP_ADDR = Ioctl.iow(KVMIO, 0x48, 8);
    public static final long KVM_CREATE_IRQCHIP = Ioctl.io(KVMIO, 0x60);
    public static final long KVM_GET_IRQCHIP = Ioctl.iowr(KVMIO, 0x62, KvmIrqchip.SIZEOF);
    /** {@code _IOR}, not {@code _IOW}: so it was defined in the header, and the number is what counts. */
    public static final long KVM_SET_IRQCHIP = Ioctl.ior(KVMIO, 0x63, KvmIrqchip.SIZEOF);
    public static final long KVM_IRQ_LINE = Ioctl.iow(KVMIO, 0x61, KvmIrqLevel.SIZEOF);
    public static final long KVM_SET_GSI_ROUTING = Ioctl.iow(KVMIO, 0x6a, KvmIrqRouting.SIZEOF);
    public static final long KVM_IRQFD = Ioctl.iow(KVMIO, 0x76, KvmIrqfd.SIZEOF);
    public static final long KVM_CREATE_PIT2 = Ioctl.iow(KVMIO, 0x77, KvmPitConfig.SIZEOF);
    public static final long KVM_IOEVENTFD = Ioctl.iow(KVMIO, 0x79, KvmIoeventfd.SIZEOF);
    public static final long KVM_SET_CLOCK = Ioctl.iow(KVMIO, 0x7b, KvmClockData.SIZEOF);
    public static final long KVM_GET_CLOCK = Ioctl.ior(KVMIO, 0x7c, KvmClockData.SIZEOF);
    public static final long KVM_GET_PIT2 = Ioctl.ior(KVMIO, 0x9f, KvmPitState2.SIZEOF);
    public static final long KVM_SET_PIT2 = Ioctl.iow(KVMIO, 0xa0, KvmPitState2.SIZEOF);
    public static final long KVM_CREATE_DEVICE = Ioctl.iowr(KVMIO, 0xe0, KvmCreateDevice.SIZEOF);
    public static final long KVM_SET_DEVICE_ATTR = Ioctl.iow(KVMIO, 0xe1, KvmDeviceAttr.SIZEOF);
    public static final long KVM_SIGNAL_MSI = Ioctl.iow(KVMIO, 0xa5, KvmMsi.SIZEOF);

    // vcpu ioctls
    public static final long KVM_RUN = Ioctl.io(KVMIO, 0x80);
    public static final long KVM_GET_REGS = Ioctl.ior(KVMIO, 0x81, KvmRegs.SIZEOF);
    public static final long KVM_SET_REGS = Ioctl.iow(KVMIO, 0x82, KvmRegs.SIZEOF);
    public static final long KVM_GET_SREGS = Ioctl.ior(KVMIO, 0x83, KvmSregs.SIZEOF);
    public static final long KVM_SET_SREGS = Ioctl.iow(KVMIO, 0x84, KvmSregs.SIZEOF);
    public static final long KVM_GET_MSRS = Ioctl.iowr(KVMIO, 0x88, KvmMsrs.SIZEOF);
    public static final long KVM_SET_MSRS = Ioctl.iow(KVMIO, 0x89, KvmMsrs.SIZEOF);
    public static final long KVM_GET_FPU = Ioctl.ior(KVMIO, 0x8c, KvmFpu.SIZEOF);
    public static final long KVM_SET_FPU = Ioctl.iow(KVMIO, 0x8d, KvmFpu.SIZEOF);
    public static final long KVM_GET_LAPIC = Ioctl.ior(KVMIO, 0x8e, KvmLapicState.SIZEOF);
    public static final long KVM_SET_LAPIC = Ioctl.iow(KVMIO, 0x8f, KvmLapicState.SIZEOF);
    public static final long KVM_SET_CPUID2 = Ioctl.iow(KVMIO, 0x90, KvmCpuid2.SIZEOF);
    public static final long KVM_GET_CPUID2 = Ioctl.iowr(KVMIO, 0x91, KvmCpuid2.SIZEOF);
    public static final long KVM_GET_MP_STATE = Ioctl.ior(KVMIO, 0x98, KvmMpState.SIZEOF);
    public static final long KVM_SET_MP_STATE = Ioctl.iow(KVMIO, 0x99, KvmMpState.SIZEOF);
    public static final long KVM_GET_VCPU_EVENTS = Ioctl.ior(KVMIO, 0x9f, KvmVcpuEvents.SIZEOF);
    public static final long KVM_SET_VCPU_EVENTS = Ioctl.iow(KVMIO, 0xa0, KvmVcpuEvents.SIZEOF);
    public static final long KVM_GET_DEBUGREGS = Ioctl.ior(KVMIO, 0xa1, KvmDebugregs.SIZEOF);
    public static final long KVM_SET_DEBUGREGS = Ioctl.iow(KVMIO, 0xa2, KvmDebugregs.SIZEOF);
    /** Argument: the frequency in kHz, by value. */
    public static final long KVM_SET_TSC_KHZ = Ioctl.io(KVMIO, 0xa2);
    /** Returns the frequency in kHz. */
    public static final long KVM_GET_TSC_KHZ = Ioctl.io(KVMIO, 0xa3);
    public static final long KVM_GET_XSAVE = Ioctl.ior(KVMIO, 0xa4, KvmXsave.SIZEOF);
    public static final long KVM_SET_XSAVE = Ioctl.iow(KVMIO, 0xa5, KvmXsave.SIZEOF);
    public static final long KVM_GET_XCRS = Ioctl.ior(KVMIO, 0xa6, KvmXcrs.SIZEOF);
    public static final long KVM_SET_XCRS = Ioctl.iow(KVMIO, 0xa7, KvmXcrs.SIZEOF);
    public static final long KVM_KVMCLOCK_CTRL = Ioctl.io(KVMIO, 0xad);
    public static final long KVM_GET_XSAVE2 = Ioctl.ior(KVMIO, 0xcf, KvmXsave.SIZEOF);

    private KvmIoctls() {
    }
}

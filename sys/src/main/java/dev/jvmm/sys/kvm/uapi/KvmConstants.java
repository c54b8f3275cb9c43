package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CConstants;

/** KVM API constants from {@code <linux/kvm.h>}; each is checked against the header. */
@CConstants(headers = "linux/kvm.h")
public final class KvmConstants {
    public static final int KVM_API_VERSION = 12;

    // exit reasons (kvm_run.exit_reason)
    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_EXCEPTION = 1;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_HYPERCALL = 3;
    public static final int KVM_EXIT_DEBUG = 4;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_SYSTEM_EVENT = 24;

    public static final int KVM_EXIT_IO_IN = 0;
    public static final int KVM_EXIT_IO_OUT = 1;

    public static final int KVM_SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int KVM_SYSTEM_EVENT_RESET = 2;
    public static final int KVM_SYSTEM_EVENT_CRASH = 3;

    public static final int KVM_INTERNAL_ERROR_EMULATION = 1;
    public static final int KVM_INTERNAL_ERROR_SIMUL_EX = 2;
    public static final int KVM_INTERNAL_ERROR_DELIVERY_EV = 3;

    // capabilities (KVM_CHECK_EXTENSION)
    public static final int KVM_CAP_IRQCHIP = 0;
    public static final int KVM_CAP_HLT = 1;
    public static final int KVM_CAP_USER_MEMORY = 3;
    public static final int KVM_CAP_SET_TSS_ADDR = 4;
    public static final int KVM_CAP_EXT_CPUID = 7;
    public static final int KVM_CAP_NR_VCPUS = 9;
    public static final int KVM_CAP_NR_MEMSLOTS = 10;
    public static final int KVM_CAP_PIT = 11;
    public static final int KVM_CAP_IOMMU = 18;
    public static final int KVM_CAP_IRQ_ROUTING = 25;
    public static final int KVM_CAP_DEVICE_CTRL = 89;

    // KVM_CREATE_DEVICE types (enum kvm_device_type) and the VFIO device's attributes
    public static final int KVM_DEV_TYPE_VFIO = 4;
    public static final int KVM_DEV_VFIO_GROUP = 1;
    public static final int KVM_DEV_VFIO_GROUP_ADD = 1;
    public static final int KVM_DEV_VFIO_GROUP_DEL = 2;
    public static final int KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
    public static final int KVM_CAP_IRQFD = 32;
    public static final int KVM_CAP_PIT2 = 33;
    public static final int KVM_CAP_PIT_STATE2 = 35;
    public static final int KVM_CAP_IOEVENTFD = 36;
    public static final int KVM_CAP_ADJUST_CLOCK = 39;
    public static final int KVM_CAP_NESTED_STATE = 157;
    public static final int KVM_CAP_MAX_VCPUS = 66;
    public static final int KVM_CAP_SIGNAL_MSI = 77;
    public static final int KVM_CAP_IRQFD_RESAMPLE = 82;
    public static final int KVM_CAP_SPLIT_IRQCHIP = 121;
    public static final int KVM_CAP_IMMEDIATE_EXIT = 136;
    public static final int KVM_CAP_MP_STATE = 14;
    public static final int KVM_CAP_VCPU_EVENTS = 41;
    public static final int KVM_CAP_DEBUGREGS = 50;
    public static final int KVM_CAP_XSAVE = 55;
    public static final int KVM_CAP_XCRS = 56;
    public static final int KVM_CAP_TSC_CONTROL = 60;
    public static final int KVM_CAP_GET_TSC_KHZ = 61;
    public static final int KVM_CAP_KVMCLOCK_CTRL = 76;
    /** On the VM fd: the size KVM_GET_XSAVE2 / KVM_SET_XSAVE move (0 on kernels without it: then 4096). */
    public static final int KVM_CAP_XSAVE2 = 208;

    // vCPU state (KVM_GET_MP_STATE, KVM_GET_VCPU_EVENTS, KVM_GET_CLOCK, irqchips)
    public static final int KVM_MP_STATE_RUNNABLE = 0;
    public static final int KVM_MP_STATE_UNINITIALIZED = 1;
    public static final int KVM_MP_STATE_INIT_RECEIVED = 2;
    public static final int KVM_MP_STATE_HALTED = 3;
    public static final int KVM_MP_STATE_SIPI_RECEIVED = 4;
    public static final int KVM_VCPUEVENT_VALID_NMI_PENDING = 0x1;
    public static final int KVM_VCPUEVENT_VALID_SIPI_VECTOR = 0x2;
    public static final int KVM_VCPUEVENT_VALID_SHADOW = 0x4;
    public static final int KVM_VCPUEVENT_VALID_SMM = 0x8;
    public static final int KVM_CLOCK_TSC_STABLE = 2;
    public static final int KVM_CLOCK_REALTIME = 1 << 2;
    public static final int KVM_CLOCK_HOST_TSC = 1 << 3;
    public static final int KVM_MAX_XCRS = 16;
    public static final int KVM_NR_IRQCHIPS = 3;
    public static final int KVM_IOAPIC_NUM_PINS = 24;

    // flags
    public static final int KVM_IRQFD_FLAG_DEASSIGN = 1;
    public static final int KVM_IRQFD_FLAG_RESAMPLE = 2;
    public static final int KVM_IRQ_ROUTING_IRQCHIP = 1;
    public static final int KVM_IRQ_ROUTING_MSI = 2;
    public static final int KVM_IRQCHIP_PIC_MASTER = 0;
    public static final int KVM_IRQCHIP_PIC_SLAVE = 1;
    public static final int KVM_IRQCHIP_IOAPIC = 2;
    public static final int KVM_PIT_SPEAKER_DUMMY = 1;
    public static final int KVM_MEM_LOG_DIRTY_PAGES = 1;
    public static final int KVM_MEM_READONLY = 2;
    /** {@code 1 << kvm_ioeventfd_flag_nr_datamatch}. */
    public static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
    /** {@code 1 << kvm_ioeventfd_flag_nr_pio}. */
    public static final int KVM_IOEVENTFD_FLAG_PIO = 2;
    /** {@code 1 << kvm_ioeventfd_flag_nr_deassign}. */
    public static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 4;

    private KvmConstants() {
    }
}

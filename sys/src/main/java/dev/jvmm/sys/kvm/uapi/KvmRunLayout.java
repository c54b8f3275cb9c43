package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_run} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_run { __u8 request_interrupt_window; __u8 immediate_exit; __u8 padding1[6];
 *   __u32 exit_reason; __u8 ready_for_interrupt_injection; __u8 if_flag; __u16 flags;
 *   __u64 cr8; __u64 apic_base; union { ... io, mmio, fail_entry, internal, system_event ... }; ... };
 * </pre>
 */
@CStruct(value = "struct kvm_run", headers = "linux/kvm.h")
public final class KvmRunLayout {
    private KvmRunLayout() {
    }

    @Offsetof("request_interrupt_window") public static final int REQUEST_INTERRUPT_WINDOW = 0;
    @Offsetof("immediate_exit") public static final int IMMEDIATE_EXIT = 1;
    @Offsetof("exit_reason") public static final int EXIT_REASON = 8;
    @Offsetof("ready_for_interrupt_injection") public static final int READY_FOR_INTERRUPT_INJECTION = 12;
    @Offsetof("if_flag") public static final int IF_FLAG = 13;
    @Offsetof("io.direction") public static final int IO_DIRECTION = 32;
    @Offsetof("io.size") public static final int IO_SIZE = 33;
    @Offsetof("io.port") public static final int IO_PORT = 34;
    @Offsetof("io.count") public static final int IO_COUNT = 36;
    @Offsetof("io.data_offset") public static final int IO_DATA_OFFSET = 40;
    @Offsetof("mmio.phys_addr") public static final int MMIO_PHYS_ADDR = 32;
    @Offsetof("mmio.data") public static final int MMIO_DATA = 40;
    @Offsetof("mmio.len") public static final int MMIO_LEN = 48;
    @Offsetof("mmio.is_write") public static final int MMIO_IS_WRITE = 52;
    @Offsetof("fail_entry.hardware_entry_failure_reason") public static final int FAIL_ENTRY_REASON = 32;
    @Offsetof("fail_entry.cpu") public static final int FAIL_ENTRY_CPU = 40;
    @Offsetof("internal.suberror") public static final int INTERNAL_SUBERROR = 32;
    @Offsetof("internal.ndata") public static final int INTERNAL_NDATA = 36;
    @Offsetof("internal.data") public static final int INTERNAL_DATA = 40;
    @Offsetof("system_event.type") public static final int SYSTEM_EVENT_TYPE = 32;
    @Offsetof("system_event.ndata") public static final int SYSTEM_EVENT_NDATA = 36;
    @Offsetof("system_event.data") public static final int SYSTEM_EVENT_DATA = 40;
}

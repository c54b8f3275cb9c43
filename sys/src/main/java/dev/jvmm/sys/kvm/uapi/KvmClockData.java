package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_clock_data} ({@code <linux/kvm.h>}, x86-64), for KVM_GET_CLOCK / KVM_SET_CLOCK.
 * <pre>
 * struct kvm_clock_data { __u64 clock; __u32 flags; __u32 pad0; __u64 realtime; __u64 host_tsc; __u32 pad[4]; };
 * </pre>
 */
@CStruct(value = "struct kvm_clock_data", headers = "linux/kvm.h")
public final class KvmClockData {
    private KvmClockData() {
    }

    @Sizeof public static final int SIZEOF = 48;
    @Offsetof("clock") public static final int CLOCK = 0;
    @Offsetof("flags") public static final int FLAGS = 8;
    @Offsetof("realtime") public static final int REALTIME = 16;
    @Offsetof("host_tsc") public static final int HOST_TSC = 24;
}

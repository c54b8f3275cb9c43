package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_pit_channel_state} ({@code <asm/kvm.h>}, x86-64), one channel of
 * {@link KvmPitState2}.
 * <pre>
 * struct kvm_pit_channel_state { __u32 count; __u16 latched_count; __u8 count_latched, status_latched, status,
 *   read_state, write_state, write_latch, rw_mode, mode, bcd, gate; __s64 count_load_time; };
 * </pre>
 */
@CStruct(value = "struct kvm_pit_channel_state", headers = "linux/kvm.h")
public final class KvmPitChannelState {
    private KvmPitChannelState() {
    }

    @Sizeof public static final int SIZEOF = 24;
    @Offsetof("count") public static final int COUNT = 0;
    @Offsetof("rw_mode") public static final int RW_MODE = 12;
    @Offsetof("mode") public static final int MODE = 13;
    @Offsetof("gate") public static final int GATE = 15;
    @Offsetof("count_load_time") public static final int COUNT_LOAD_TIME = 16;
}

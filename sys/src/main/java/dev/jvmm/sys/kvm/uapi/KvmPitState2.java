package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_pit_state2} ({@code <asm/kvm.h>}, x86-64), for KVM_GET_PIT2 / KVM_SET_PIT2.
 * <pre>
 * struct kvm_pit_state2 { struct kvm_pit_channel_state channels[3]; __u32 flags; __u32 reserved[9]; };
 * </pre>
 * See {@link KvmPitChannelState} for one channel.
 */
@CStruct(value = "struct kvm_pit_state2", headers = "linux/kvm.h")
public final class KvmPitState2 {
    private KvmPitState2() {
    }

    @Sizeof public static final int SIZEOF = 112;
    @Offsetof("channels") public static final int CHANNELS = 0;
    @Offsetof("channels[1]") public static final int CHANNEL1 = 24;
    @Offsetof("flags") public static final int FLAGS = 72;
}

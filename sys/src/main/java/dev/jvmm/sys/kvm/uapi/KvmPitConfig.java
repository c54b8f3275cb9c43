package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_pit_config} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_pit_config { __u32 flags; __u32 pad[15]; };
 * </pre>
 */
@CStruct(value = "struct kvm_pit_config", headers = "linux/kvm.h")
public final class KvmPitConfig {
    private KvmPitConfig() {
    }

    @Sizeof public static final int SIZEOF = 64;
    @Offsetof("flags") public static final int FLAGS = 0;
}

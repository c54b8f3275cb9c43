package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_create_device} ({@code <linux/kvm.h>}), the argument of {@code KVM_CREATE_DEVICE}.
 * <pre>
 * struct kvm_create_device { __u32 type; __u32 fd; __u32 flags; };
 * </pre>
 */
@CStruct(value = "struct kvm_create_device", headers = "linux/kvm.h")
public final class KvmCreateDevice {
    private KvmCreateDevice() {
    }

    @Sizeof public static final int SIZEOF = 12;
    @Offsetof("type") public static final int TYPE = 0;
    @Offsetof("fd") public static final int FD = 4;
    @Offsetof("flags") public static final int FLAGS = 8;
}

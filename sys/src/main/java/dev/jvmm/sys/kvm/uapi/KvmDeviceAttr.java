package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_device_attr} ({@code <linux/kvm.h>}), the argument of {@code KVM_SET_DEVICE_ATTR}.
 * <pre>
 * struct kvm_device_attr { __u32 flags; __u32 group; __u64 attr; __u64 addr; };
 * </pre>
 */
@CStruct(value = "struct kvm_device_attr", headers = "linux/kvm.h")
public final class KvmDeviceAttr {
    private KvmDeviceAttr() {
    }

    @Sizeof public static final int SIZEOF = 24;
    @Offsetof("flags") public static final int FLAGS = 0;
    @Offsetof("group") public static final int GROUP = 4;
    @Offsetof("attr") public static final int ATTR = 8;
    @Offsetof("addr") public static final int ADDR = 16;
}

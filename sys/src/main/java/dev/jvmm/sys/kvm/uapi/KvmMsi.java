package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_msi} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_msi { __u32 address_lo; __u32 address_hi; __u32 data; __u32 flags; __u32 devid; __u8 pad[12]; };
 * </pre>
 */
@CStruct(value = "struct kvm_msi", headers = "linux/kvm.h")
public final class KvmMsi {
    private KvmMsi() {
    }

    @Sizeof public static final int SIZEOF = 32;
    @Offsetof("address_lo") public static final int ADDRESS_LO = 0;
    @Offsetof("address_hi") public static final int ADDRESS_HI = 4;
    @Offsetof("data") public static final int DATA = 8;
    @Offsetof("flags") public static final int FLAGS = 12;
    @Offsetof("devid") public static final int DEVID = 16;
}

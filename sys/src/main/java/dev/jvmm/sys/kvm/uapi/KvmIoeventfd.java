package dev.jvmm.sys.kvm.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct kvm_ioeventfd} ({@code <linux/kvm.h>}, x86-64).
 * <pre>
 * struct kvm_ioeventfd { __u64 datamatch; __u64 addr; __u32 len; __s32 fd; __u32 flags; __u8 pad[36]; };
 * </pre>
 */
@CStruct(value = "struct kvm_ioeventfd", headers = "linux/kvm.h")
public final class KvmIoeventfd {
    private KvmIoeventfd() {
    }

    @Sizeof public static final int SIZEOF = 64;
    @Offsetof("datamatch") public static final int DATAMATCH = 0;
    @Offsetof("addr") public static final int ADDR = 8;
    @Offsetof("len") public static final int LEN = 16;
    @Offsetof("fd") public static final int FD = 20;
    @Offsetof("flags") public static final int FLAGS = 24;
}

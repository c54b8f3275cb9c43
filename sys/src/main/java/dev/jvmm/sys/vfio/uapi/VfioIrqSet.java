package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_irq_set} ({@code <linux/vfio.h>}), the argument of {@code VFIO_DEVICE_SET_IRQS}; a
 * flexible array ({@code data}: one {@code __s32} eventfd or one {@code __u8} bool per vector, or nothing) follows,
 * so it is built with {@link dev.jvmm.sys.FlexArray}.
 * <pre>
 * struct vfio_irq_set { __u32 argsz; __u32 flags; __u32 index; __u32 start; __u32 count; __u8 data[]; };
 * </pre>
 */
@CStruct(value = "struct vfio_irq_set", headers = "linux/vfio.h")
public final class VfioIrqSet {
    private VfioIrqSet() {
    }

    @Sizeof public static final int SIZEOF = 20;
    @Offsetof("argsz") public static final int ARGSZ = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("index") public static final int INDEX = 8;
    @Offsetof("start") public static final int START = 12;
    @Offsetof("count") public static final int COUNT = 16;
    @Offsetof("data") public static final int DATA = 20;
}

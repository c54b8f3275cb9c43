package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct vfio_irq_info} ({@code <linux/vfio.h>}), the argument of {@code VFIO_DEVICE_GET_IRQ_INFO}.
 * <pre>
 * struct vfio_irq_info { __u32 argsz; __u32 flags; __u32 index; __u32 count; };
 * </pre>
 */
@CStruct(value = "struct vfio_irq_info", headers = "linux/vfio.h")
public final class VfioIrqInfo {
    private VfioIrqInfo() {
    }

    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("argsz") public static final int ARGSZ = 0;
    @Offsetof("flags") public static final int FLAGS = 4;
    @Offsetof("index") public static final int INDEX = 8;
    @Offsetof("count") public static final int COUNT = 12;
}

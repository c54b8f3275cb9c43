package dev.jvmm.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.vfio.uapi.VfioConstants;
import org.junit.jupiter.api.Test;

/** Flag decoding of the info records (the values come from the kernel; see VfioLabTest for the real ones). */
class VfioInfoTest {
    @Test
    void deviceRegionAndIrqFlags() {
        VfioDeviceInfo d = new VfioDeviceInfo(VfioConstants.VFIO_DEVICE_FLAGS_PCI | VfioConstants.VFIO_DEVICE_FLAGS_RESET, 9, 5);
        assertTrue(d.isPci() && d.canReset());
        assertEquals("flags=PCI|RESET regions=9 irqs=5", d.toString());
        assertEquals("flags=PCI regions=9 irqs=5", new VfioDeviceInfo(VfioConstants.VFIO_DEVICE_FLAGS_PCI, 9, 5).toString());

        VfioRegionInfo bar = new VfioRegionInfo(0, VfioConstants.VFIO_REGION_INFO_FLAG_READ
                | VfioConstants.VFIO_REGION_INFO_FLAG_WRITE | VfioConstants.VFIO_REGION_INFO_FLAG_MMAP, 0x4000, 0);
        assertTrue(bar.readable() && bar.writable() && bar.mappable() && bar.exists());
        assertEquals("region 0 size=0x4000 offset=0x0 flags=RWM", bar.toString());
        VfioRegionInfo absent = new VfioRegionInfo(1, 0, 0, 1L << 40);
        assertFalse(absent.exists() || absent.readable() || absent.mappable());
        assertEquals("region 1 size=0x0 offset=0x10000000000 flags=---", absent.toString());

        VfioIrqInfo intx = new VfioIrqInfo(0, VfioConstants.VFIO_IRQ_INFO_EVENTFD | VfioConstants.VFIO_IRQ_INFO_MASKABLE
                | VfioConstants.VFIO_IRQ_INFO_AUTOMASKED, 1);
        assertTrue(intx.eventfd() && intx.maskable() && intx.automasked());
        assertEquals("irq 0 count=1 flags=0x7", intx.toString());
        assertFalse(new VfioIrqInfo(2, VfioConstants.VFIO_IRQ_INFO_EVENTFD, 3).maskable());
    }
}

package dev.jvmm.iommu;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Argument checks of {@link VfioContainer#map} made before any ioctl. */
class DmaRangeTest {
    private static void bad(long vaddr, long iova, long size) {
        IommuException e = assertThrows(IommuException.class, () -> VfioContainer.checkDmaRange(vaddr, iova, size));
        assertEquals(IommuException.Reason.INVALID_ARGUMENT, e.reason(), e.getMessage());
    }

    @Test
    void alignmentSizeAndWrapAround() {
        assertDoesNotThrow(() -> VfioContainer.checkDmaRange(0x7f0000000000L, 0, 2L << 20));
        assertDoesNotThrow(() -> VfioContainer.checkDmaRange(0x7f0000001000L, 0xfffff000L, 0x1000));
        bad(0x7f0000000000L, 0x100000, 0);
        bad(0x7f0000000000L, 0x100000, -4096);
        bad(0, 0x100000, 4096);
        bad(0x7f0000000800L, 0x100000, 4096);
        bad(0x7f0000000000L, 0x100800, 4096);
        bad(0x7f0000000000L, 0x100000, 4095);
        bad(0x7f0000000000L, 0xfffffffffffff000L, 0x2000);
        IommuException e = assertThrows(IommuException.class, () -> VfioContainer.checkDmaRange(0x1000, 0x1001, 0x1000));
        assertEquals("DMA mapping vaddr=0x1000 iova=0x1001 size=0x1000: all must be 4 KiB aligned, vaddr and size not 0",
                e.getMessage());
    }
}

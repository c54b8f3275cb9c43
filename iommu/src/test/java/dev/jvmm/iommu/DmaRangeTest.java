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

    /** VFIO_IOMMU_GET_INFO's IOVA ranges as intel-iommu reports them: all but the MSI window, from bytes built here. */
    @Test
    void iovaRangesFromTheInfoCapabilityChain() {
        try (dev.jvmm.sys.NativeBuffer b = new dev.jvmm.sys.NativeBuffer(72)) {
            b.put(0, new byte[72], 0, 72);
            b.putShort(24, dev.jvmm.sys.vfio.uapi.VfioConstants.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
            b.putInt(32, 2);
            b.putLong(40, 0);
            b.putLong(48, 0xfedfffffL);
            b.putLong(56, 0xfef00000L);
            b.putLong(64, 0x7fffffffffffL);
            var ranges = VfioContainer.iovaRanges(b, 24, 72);
            assertEquals("[0x0-0xfedfffff, 0xfef00000-0x7fffffffffff]", ranges.toString());
            assertEquals(true, ranges.get(0).holds(0, 0xc0000000L));
            assertEquals(false, ranges.get(0).holds(0xfe000000L, 0x1000000));
            b.putInt(32, 4); // more ranges than the answer holds
            IommuException e = assertThrows(IommuException.class, () -> VfioContainer.iovaRanges(b, 24, 72));
            assertEquals("VFIO_IOMMU_GET_INFO: IOVA range capability with 4 entries does not fit the 72-byte answer", e.getMessage());
            assertEquals(null, VfioContainer.iovaRanges(b, 0, 72));
        }
    }
}

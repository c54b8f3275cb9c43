package dev.jvmm.vfio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.vfio.uapi.VfioConstants;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The capability chain of {@code VFIO_DEVICE_GET_REGION_INFO} as the kernel lays it out (a 32-byte info struct,
 * then caps linked by offsets from its start), read from bytes built here: the sparse mmap areas, and answers a
 * broken kernel or a fuzzer could give (offsets past the buffer, too many areas, areas outside the region).
 */
class RegionCapsTest {
    private static NativeBuffer answer(int len) {
        NativeBuffer b = new NativeBuffer(len);
        b.put(0, new byte[len], 0, len);
        return b;
    }

    @Test
    void sparseAreasAfterAnotherCapability() {
        try (NativeBuffer b = answer(96)) {
            // an unknown cap (id 7) at 32 pointing at the sparse cap at 48: two areas
            b.putShort(32, (short) 7);
            b.putInt(36, 48);
            b.putShort(48, (short) VfioConstants.VFIO_REGION_INFO_CAP_SPARSE_MMAP);
            b.putInt(56, 2);
            b.putLong(64, 0x3000);
            b.putLong(72, 0x1000);
            b.putLong(80, 0);
            b.putLong(88, 0x2000);
            assertEquals(List.of(new VfioRegionInfo.Area(0, 0x2000), new VfioRegionInfo.Area(0x3000, 0x1000)),
                    VfioDevice.sparseAreas(b, 32, 96, 0x4000));
            VfioRegionInfo r = new VfioRegionInfo(0, VfioConstants.VFIO_REGION_INFO_FLAG_READ
                    | VfioConstants.VFIO_REGION_INFO_FLAG_MMAP | VfioConstants.VFIO_REGION_INFO_FLAG_CAPS, 0x4000, 0,
                    VfioDevice.sparseAreas(b, 32, 96, 0x4000));
            assertEquals(2, r.mappableAreas().size());
            assertTrue(r.toString().endsWith("sparse=[0x0+0x2000, 0x3000+0x1000]"), r.toString());
        }
    }

    @Test
    void noSparseCapabilityMeansTheWholeRegion() {
        try (NativeBuffer b = answer(48)) {
            b.putShort(32, (short) 7);
            assertNull(VfioDevice.sparseAreas(b, 32, 48, 0x4000));
            assertEquals(List.of(new VfioRegionInfo.Area(0, 0x4000)), new VfioRegionInfo(0,
                    VfioConstants.VFIO_REGION_INFO_FLAG_MMAP, 0x4000, 0, null).mappableAreas());
        }
    }

    @Test
    void brokenAnswersAreErrorsNotReadsOutOfBounds() {
        try (NativeBuffer b = answer(64)) {
            VfioException e = assertThrows(VfioException.class, () -> VfioDevice.sparseAreas(b, 60, 64, 0x4000));
            assertTrue(e.getMessage().contains("lies outside the 64-byte answer"), e.getMessage());
            b.putShort(32, (short) VfioConstants.VFIO_REGION_INFO_CAP_SPARSE_MMAP);
            b.putInt(40, 3); // three areas need 48 bytes after the 16-byte header: 96 > 64
            e = assertThrows(VfioException.class, () -> VfioDevice.sparseAreas(b, 32, 64, 0x4000));
            assertTrue(e.getMessage().contains("sparse mmap capability with 3 entries does not fit"), e.getMessage());
            b.putInt(40, 1);
            b.putLong(48, 0x3000);
            b.putLong(56, 0x2000);
            e = assertThrows(VfioException.class, () -> VfioDevice.sparseAreas(b, 32, 64, 0x4000));
            assertTrue(e.getMessage().contains("0x3000+0x2000 lies outside the region"), e.getMessage());
            b.putShort(32, (short) 7);
            b.putInt(36, 32); // a chain that points at itself ends after 16 links
            assertNull(VfioDevice.sparseAreas(b, 32, 64, 0x4000));
        }
    }
}

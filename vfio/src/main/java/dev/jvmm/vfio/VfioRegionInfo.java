package dev.jvmm.vfio;

import dev.jvmm.sys.vfio.uapi.VfioConstants;
import java.util.List;

/**
 * {@code VFIO_DEVICE_GET_REGION_INFO}: a region's size, its offset in the device fd (for pread/pwrite/mmap) and its
 * flags ({@code VFIO_REGION_INFO_FLAG_*}). A size of 0 means the region does not exist (an unimplemented BAR).
 *
 * @param sparse the {@code VFIO_REGION_INFO_CAP_SPARSE_MMAP} areas: only these parts of a mappable region may be
 *               mmap'd (the kernel leaves out, e.g., the MSI-X table where it cannot isolate it); null when the
 *               region carries no such capability, so that all of it may be mapped
 */
public record VfioRegionInfo(int index, int flags, long size, long offset, List<Area> sparse) {
    /** One mmap-able part of a region: {@code size} bytes at {@code offset} (from the region's start). */
    public record Area(long offset, long size) {
    }

    public VfioRegionInfo {
        sparse = sparse == null ? null : List.copyOf(sparse);
    }

    public VfioRegionInfo(int index, int flags, long size, long offset) {
        this(index, flags, size, offset, null);
    }

    public boolean readable() {
        return (flags & VfioConstants.VFIO_REGION_INFO_FLAG_READ) != 0;
    }

    public boolean writable() {
        return (flags & VfioConstants.VFIO_REGION_INFO_FLAG_WRITE) != 0;
    }

    public boolean mappable() {
        return (flags & VfioConstants.VFIO_REGION_INFO_FLAG_MMAP) != 0;
    }

    public boolean exists() {
        return size > 0;
    }

    /** The parts that may be mmap'd: the sparse areas, or the whole region; empty when it cannot be mapped. */
    public List<Area> mappableAreas() {
        if (!mappable()) {
            return List.of();
        }
        return sparse != null ? sparse : List.of(new Area(0, size));
    }

    @Override
    public String toString() {
        return String.format("region %d size=0x%x offset=0x%x flags=%s%s%s%s", index, size, offset,
                readable() ? "R" : "-", writable() ? "W" : "-", mappable() ? "M" : "-",
                sparse == null ? "" : " sparse=" + sparse.stream()
                        .map(a -> String.format("0x%x+0x%x", a.offset(), a.size())).toList());
    }
}

package dev.jvmm.vfio;

import dev.jvmm.sys.vfio.uapi.VfioConstants;

/**
 * {@code VFIO_DEVICE_GET_REGION_INFO}: a region's size, its offset in the device fd (for pread/pwrite/mmap) and its
 * flags ({@code VFIO_REGION_INFO_FLAG_*}). A size of 0 means the region does not exist (an unimplemented BAR).
 */
public record VfioRegionInfo(int index, int flags, long size, long offset) {
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

    @Override
    public String toString() {
        return String.format("region %d size=0x%x offset=0x%x flags=%s%s%s", index, size, offset,
                readable() ? "R" : "-", writable() ? "W" : "-", mappable() ? "M" : "-");
    }
}

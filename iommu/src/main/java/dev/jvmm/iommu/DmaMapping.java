package dev.jvmm.iommu;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.vfio.uapi.VfioIoctls;
import dev.jvmm.sys.vfio.uapi.VfioIommuType1DmaUnmap;

/**
 * One {@code VFIO_IOMMU_MAP_DMA} range of a {@link VfioContainer}. {@link #close()} issues
 * {@code VFIO_IOMMU_UNMAP_DMA}, once; the caller must keep the host memory mapped until then.
 */
public final class DmaMapping implements AutoCloseable {
    private final VfioContainer container;
    private final long vaddr;
    private final long iova;
    private final long size;
    private boolean closed;

    DmaMapping(VfioContainer container, long vaddr, long iova, long size) {
        this.container = container;
        this.vaddr = vaddr;
        this.iova = iova;
        this.size = size;
    }

    public long vaddr() {
        return vaddr;
    }

    public long iova() {
        return iova;
    }

    public long size() {
        return size;
    }

    public synchronized boolean isMapped() {
        return !closed;
    }

    void unmapIn(Fd containerFd) {
        try (NativeBuffer b = new NativeBuffer(VfioIommuType1DmaUnmap.SIZEOF)) {
            b.putInt(VfioIommuType1DmaUnmap.ARGSZ, VfioIommuType1DmaUnmap.SIZEOF);
            b.putLong(VfioIommuType1DmaUnmap.IOVA, iova);
            b.putLong(VfioIommuType1DmaUnmap.SIZE, size);
            containerFd.ioctl("VFIO_IOMMU_UNMAP_DMA", VfioIoctls.VFIO_IOMMU_UNMAP_DMA, b.address(), this.toString());
            long done = b.getLong(VfioIommuType1DmaUnmap.SIZE);
            if (done != size) {
                throw new IommuException(IommuException.Reason.IOCTL, "VFIO_IOMMU_UNMAP_DMA unmapped 0x"
                        + Long.toHexString(done) + " bytes of " + this);
            }
        } catch (ErrnoException e) {
            throw new IommuException(IommuException.Reason.IOCTL, e.getMessage(), e);
        }
    }

    synchronized void markClosed() {
        closed = true;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        container.unmap(this);
    }

    @Override
    public String toString() {
        return String.format("iova=0x%x size=0x%x vaddr=0x%x", iova, size, vaddr);
    }
}

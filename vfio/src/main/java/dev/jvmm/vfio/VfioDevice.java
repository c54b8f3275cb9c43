package dev.jvmm.vfio;

import dev.jvmm.iommu.VfioGroup;
import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.FlexArray;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.vfio.uapi.VfioConstants;
import dev.jvmm.sys.vfio.uapi.VfioIoctls;
import dev.jvmm.sys.vfio.InfoCaps;
import dev.jvmm.sys.vfio.uapi.VfioIrqSet;
import dev.jvmm.sys.vfio.uapi.VfioSparseMmapCap;
import java.util.ArrayList;
import java.util.List;

/**
 * One VFIO device fd ({@code VFIO_GROUP_GET_DEVICE_FD}): device, region and irq info, region access through
 * pread/pwrite and mmap, {@code VFIO_DEVICE_SET_IRQS} and {@code VFIO_DEVICE_RESET}. See the kernel's
 * Documentation/driver-api/vfio.rst and {@code <linux/vfio.h>}.
 *
 * <p>For a vfio-pci device the regions are indexed by {@code VFIO_PCI_*_REGION_INDEX} (BAR0..5, ROM, config space,
 * VGA) and the irqs by {@code VFIO_PCI_*_IRQ_INDEX} (INTx, MSI, MSI-X, ERR, REQ).
 *
 * <p>Owns the device fd; {@link #close()} is idempotent. Close the device before its group's container. What a
 * passed-through PCI function uses of it is {@link VfioDeviceIo}.
 */
public final class VfioDevice implements VfioDeviceIo {
    private final String bdf;
    private final Fd fd;
    private final VfioDeviceInfo info;
    private final VfioRegionInfo[] regions;
    private final NativeBuffer io = new NativeBuffer(8);

    private VfioDevice(String bdf, Fd fd) {
        this.bdf = bdf;
        this.fd = fd;
        try (NativeBuffer b = new NativeBuffer(dev.jvmm.sys.vfio.uapi.VfioDeviceInfo.SIZEOF)) {
            b.putInt(dev.jvmm.sys.vfio.uapi.VfioDeviceInfo.ARGSZ, dev.jvmm.sys.vfio.uapi.VfioDeviceInfo.SIZEOF);
            ioctl("VFIO_DEVICE_GET_INFO", VfioIoctls.VFIO_DEVICE_GET_INFO, b.address(), "");
            this.info = new VfioDeviceInfo(b.getInt(dev.jvmm.sys.vfio.uapi.VfioDeviceInfo.FLAGS),
                    b.getInt(dev.jvmm.sys.vfio.uapi.VfioDeviceInfo.NUM_REGIONS),
                    b.getInt(dev.jvmm.sys.vfio.uapi.VfioDeviceInfo.NUM_IRQS));
        }
        this.regions = new VfioRegionInfo[Math.max(0, info.numRegions())];
    }

    /**
     * Opens {@code bdf} in {@code group} (from {@link dev.jvmm.iommu.VfioContainer#groupFor}). Fails with an
     * {@link dev.jvmm.iommu.IommuException} when the device is not bound to vfio-pci, leaving no fd behind.
     */
    public static VfioDevice open(VfioGroup group, String bdf) {
        Fd fd = group.openDevice(bdf);
        try {
            return new VfioDevice(dev.jvmm.sys.pci.PciAddress.parse(bdf).toString(), fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    @Override
    public String bdf() {
        return bdf;
    }

    /** The raw device fd (for mmap by other owners, or KVM_DEV_VFIO). */
    public int fd() {
        return fd.fd();
    }

    @Override
    public VfioDeviceInfo info() {
        return info;
    }

    /**
     * {@code VFIO_DEVICE_GET_REGION_INFO} of region {@code index}, read once and cached. A region the device lacks has
     * size 0 ({@link VfioRegionInfo#exists()} false): an unimplemented BAR, or the VGA region, for which vfio-pci
     * answers EINVAL.
     */
    @Override
    public synchronized VfioRegionInfo region(int index) {
        if (index < 0 || index >= regions.length) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, bdf + ": region " + index
                    + " out of range (the device has " + regions.length + ")");
        }
        if (regions[index] == null) {
            regions[index] = queryRegion(index);
        }
        return regions[index];
    }

    private VfioRegionInfo queryRegion(int index) {
        int argsz = dev.jvmm.sys.vfio.uapi.VfioRegionInfo.SIZEOF;
        for (int attempt = 0; attempt < 2; attempt++) {
            try (NativeBuffer b = new NativeBuffer(argsz)) {
                b.putInt(dev.jvmm.sys.vfio.uapi.VfioRegionInfo.ARGSZ, argsz);
                b.putInt(dev.jvmm.sys.vfio.uapi.VfioRegionInfo.INDEX, index);
                try {
                    fd.ioctl("VFIO_DEVICE_GET_REGION_INFO", VfioIoctls.VFIO_DEVICE_GET_REGION_INFO, b.address(),
                            bdf + " index=" + index);
                } catch (ErrnoException e) {
                    if (e.errno() != Errno.EINVAL) {
                        throw new VfioException(VfioException.Reason.IOCTL, e.getMessage(), e);
                    }
                    // vfio-pci answers EINVAL for a region the device lacks (the VGA region of a non-VGA device)
                    return new VfioRegionInfo(index, 0, 0, 0);
                }
                int flags = b.getInt(dev.jvmm.sys.vfio.uapi.VfioRegionInfo.FLAGS);
                int need = b.getInt(dev.jvmm.sys.vfio.uapi.VfioRegionInfo.ARGSZ);
                if ((flags & VfioConstants.VFIO_REGION_INFO_FLAG_CAPS) != 0 && need > argsz) {
                    argsz = need; // the capability chain did not fit: ask again with the size the kernel named
                    continue;
                }
                long size = b.getLong(dev.jvmm.sys.vfio.uapi.VfioRegionInfo.SIZE);
                List<VfioRegionInfo.Area> sparse = (flags & VfioConstants.VFIO_REGION_INFO_FLAG_CAPS) == 0 ? null
                        : sparseAreas(b, b.getInt(dev.jvmm.sys.vfio.uapi.VfioRegionInfo.CAP_OFFSET), argsz, size);
                return new VfioRegionInfo(index, flags, size, b.getLong(dev.jvmm.sys.vfio.uapi.VfioRegionInfo.OFFSET),
                        sparse);
            }
        }
        throw new VfioException(VfioException.Reason.IOCTL, bdf + ": region " + index
                + ": VFIO_DEVICE_GET_REGION_INFO kept asking for a larger argsz");
    }

    /**
     * The {@code VFIO_REGION_INFO_CAP_SPARSE_MMAP} areas in the capability chain at {@code capOffset} of {@code b}
     * ({@code len} bytes), or null when the chain has none. Areas outside the region are an error: the kernel's
     * answer is trusted no further than its bounds.
     */
    static List<VfioRegionInfo.Area> sparseAreas(NativeBuffer b, int capOffset, int len, long regionSize) {
        java.util.function.Function<String, RuntimeException> err = m -> new VfioException(VfioException.Reason.IOCTL,
                "VFIO_DEVICE_GET_REGION_INFO: " + m);
        int at = InfoCaps.find(b, capOffset, len, VfioConstants.VFIO_REGION_INFO_CAP_SPARSE_MMAP, err);
        if (at < 0) {
            return null;
        }
        int n = b.getInt(at + VfioSparseMmapCap.NR_AREAS);
        InfoCaps.checkEntries(at + VfioSparseMmapCap.AREAS, n, VfioSparseMmapCap.AREA_SIZE, len, "sparse mmap capability", err);
        List<VfioRegionInfo.Area> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int e = at + VfioSparseMmapCap.AREAS + i * VfioSparseMmapCap.AREA_SIZE;
            long off = b.getLong(e);
            long size = b.getLong(e + 8);
            if (off < 0 || size < 0 || off + size > regionSize) {
                throw err.apply(String.format("sparse mmap area 0x%x+0x%x lies outside the region (0x%x bytes)", off,
                        size, regionSize));
            }
            if (size > 0) {
                l.add(new VfioRegionInfo.Area(off, size));
            }
        }
        l.sort((x, y) -> Long.compare(x.offset(), y.offset()));
        return l;
    }

    /** All regions, by index. */
    public List<VfioRegionInfo> regions() {
        List<VfioRegionInfo> l = new ArrayList<>(regions.length);
        for (int i = 0; i < regions.length; i++) {
            l.add(region(i));
        }
        return l;
    }

    /** {@code VFIO_DEVICE_GET_IRQ_INFO} of irq index {@code index}. */
    @Override
    public VfioIrqInfo irq(int index) {
        checkIrqIndex(index);
        try (NativeBuffer b = new NativeBuffer(dev.jvmm.sys.vfio.uapi.VfioIrqInfo.SIZEOF)) {
            b.putInt(dev.jvmm.sys.vfio.uapi.VfioIrqInfo.ARGSZ, dev.jvmm.sys.vfio.uapi.VfioIrqInfo.SIZEOF);
            b.putInt(dev.jvmm.sys.vfio.uapi.VfioIrqInfo.INDEX, index);
            ioctl("VFIO_DEVICE_GET_IRQ_INFO", VfioIoctls.VFIO_DEVICE_GET_IRQ_INFO, b.address(), "index=" + index);
            return new VfioIrqInfo(index, b.getInt(dev.jvmm.sys.vfio.uapi.VfioIrqInfo.FLAGS),
                    b.getInt(dev.jvmm.sys.vfio.uapi.VfioIrqInfo.COUNT));
        }
    }

    private void checkIrqIndex(int index) {
        if (index < 0 || index >= info.numIrqs()) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, bdf + ": irq index " + index
                    + " out of range (the device has " + info.numIrqs() + ")");
        }
    }

    /**
     * {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_EVENTFD | ACTION_TRIGGER}: vectors {@code start..start+n-1} of irq
     * index {@code index} signal the given eventfds ({@code -1} leaves that vector without one). For MSI/MSI-X this
     * enables the capability on the device with that many vectors. Pass an irqfd's eventfd so that the interrupt goes
     * from the host straight into KVM.
     */
    @Override
    public void setIrqEventfds(int index, int start, int... eventfds) {
        setIrqsEventfds(VfioConstants.VFIO_IRQ_SET_ACTION_TRIGGER, index, start, eventfds);
    }

    /**
     * {@code VFIO_DEVICE_SET_IRQS} {@code DATA_EVENTFD | ACTION_UNMASK}: a signal of {@code eventfd} unmasks vector
     * {@code vector} of a maskable (INTx) irq. Give it KVM's resamplefd, and the guest's EOI unmasks the host line
     * without passing through the VMM.
     */
    @Override
    public void setIrqUnmaskEventfd(int index, int vector, int eventfd) {
        setIrqsEventfds(VfioConstants.VFIO_IRQ_SET_ACTION_UNMASK, index, vector, eventfd);
    }

    private void setIrqsEventfds(int action, int index, int start, int... eventfds) {
        checkIrqIndex(index);
        if (eventfds.length == 0 || start < 0) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, bdf + ": SET_IRQS needs start >= 0 and at "
                    + "least one eventfd (use disableIrqs to turn an index off)");
        }
        int count = irq(index).count();
        if ((long) start + eventfds.length > count) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, bdf + ": irq index " + index + " has " + count
                    + " vectors; vectors " + start + ".." + (start + eventfds.length - 1) + " requested");
        }
        try (FlexArray a = new FlexArray(VfioIrqSet.SIZEOF, 4, eventfds.length)) {
            header(a, VfioConstants.VFIO_IRQ_SET_DATA_EVENTFD | action, index, start, eventfds.length);
            for (int i = 0; i < eventfds.length; i++) {
                a.buffer().putInt(a.entry(i), eventfds[i]);
            }
            ioctl("VFIO_DEVICE_SET_IRQS", VfioIoctls.VFIO_DEVICE_SET_IRQS, a.address(),
                    "index=" + index + " start=" + start + " count=" + eventfds.length + " action=0x"
                            + Integer.toHexString(action));
        }
    }

    /** {@code VFIO_DEVICE_SET_IRQS} {@code DATA_NONE | ACTION_TRIGGER} with count 0: turns irq index {@code index} off. */
    @Override
    public void disableIrqs(int index) {
        checkIrqIndex(index);
        setIrqsNoData(VfioConstants.VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0);
    }

    /**
     * {@code VFIO_DEVICE_SET_IRQS} {@code DATA_NONE | ACTION_TRIGGER} with count 1: fires vector {@code vector} in
     * software, as if the device had raised it (its eventfd is signalled). For tests and diagnostics.
     */
    public void triggerIrq(int index, int vector) {
        checkIrqIndex(index);
        setIrqsNoData(VfioConstants.VFIO_IRQ_SET_ACTION_TRIGGER, index, vector, 1);
    }

    /** {@code DATA_NONE | ACTION_UNMASK} of an INTx-style (maskable) irq, e.g. after the guest's EOI. */
    public void unmaskIrq(int index, int vector) {
        checkIrqIndex(index);
        setIrqsNoData(VfioConstants.VFIO_IRQ_SET_ACTION_UNMASK, index, vector, 1);
    }

    private void setIrqsNoData(int action, int index, int start, int count) {
        try (FlexArray a = new FlexArray(VfioIrqSet.SIZEOF, 0, 0)) {
            header(a, VfioConstants.VFIO_IRQ_SET_DATA_NONE | action, index, start, count);
            ioctl("VFIO_DEVICE_SET_IRQS", VfioIoctls.VFIO_DEVICE_SET_IRQS, a.address(),
                    "index=" + index + " start=" + start + " count=" + count + " flags=0x"
                            + Integer.toHexString(VfioConstants.VFIO_IRQ_SET_DATA_NONE | action));
        }
    }

    private static void header(FlexArray a, int flags, int index, int start, int count) {
        NativeBuffer b = a.buffer();
        b.putInt(VfioIrqSet.ARGSZ, (int) b.size());
        b.putInt(VfioIrqSet.FLAGS, flags);
        b.putInt(VfioIrqSet.INDEX, index);
        b.putInt(VfioIrqSet.START, start);
        b.putInt(VfioIrqSet.COUNT, count);
    }

    /** {@code VFIO_DEVICE_RESET}: function-level (or equivalent) reset; fails UNSUPPORTED where the device has none. */
    @Override
    public void reset() {
        if (!info.canReset()) {
            throw new VfioException(VfioException.Reason.UNSUPPORTED, bdf + " does not support VFIO_DEVICE_RESET");
        }
        ioctl("VFIO_DEVICE_RESET", VfioIoctls.VFIO_DEVICE_RESET, 0, "");
    }

    /** Reads {@code size} (1, 2 or 4) bytes of PCI config space at {@code offset}, through the config region. */
    @Override
    public int readConfig(int offset, int size) {
        return (int) read(VfioConstants.VFIO_PCI_CONFIG_REGION_INDEX, offset, size);
    }

    /** Writes {@code size} (1, 2 or 4) bytes of PCI config space; vfio-pci virtualises what the host must keep. */
    @Override
    public void writeConfig(int offset, int size, int value) {
        write(VfioConstants.VFIO_PCI_CONFIG_REGION_INDEX, offset, size, value);
    }

    /** pread of {@code size} (1, 2, 4 or 8) bytes at {@code offset} within region {@code index}, little-endian. */
    @Override
    public synchronized long read(int index, long offset, int size) {
        long at = checkAccess(index, offset, size, false);
        long n;
        n = Native.LIBC.pread(fd.fd(), io.address(), size, at);
        if (n != size) {
            throw new VfioException(VfioException.Reason.IOCTL, bdf + ": pread of " + size + " bytes at region "
                    + index + " offset 0x" + Long.toHexString(offset) + " returned " + n,
                    n < 0 ? new ErrnoException("pread", Native.errno(), bdf) : null);
        }
        return switch (size) {
            case 1 -> io.getByte(0) & 0xffL;
            case 2 -> io.getShort(0) & 0xffffL;
            case 4 -> io.getInt(0) & 0xffffffffL;
            default -> io.getLong(0);
        };
    }

    /** pwrite of {@code size} (1, 2, 4 or 8) bytes at {@code offset} within region {@code index}, little-endian. */
    @Override
    public synchronized void write(int index, long offset, int size, long value) {
        long at = checkAccess(index, offset, size, true);
        io.putLong(0, value);
        long n = Native.LIBC.pwrite(fd.fd(), io.address(), size, at);
        if (n != size) {
            throw new VfioException(VfioException.Reason.IOCTL, bdf + ": pwrite of " + size + " bytes at region "
                    + index + " offset 0x" + Long.toHexString(offset) + " returned " + n,
                    n < 0 ? new ErrnoException("pwrite", Native.errno(), bdf) : null);
        }
    }

    private long checkAccess(int index, long offset, int size, boolean write) {
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, bdf + ": access size " + size);
        }
        VfioRegionInfo r = region(index);
        if (offset < 0 || offset + size > r.size()) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, String.format(
                    "%s: %d-byte access at 0x%x is outside region %d (size 0x%x)", bdf, size, offset, index, r.size()));
        }
        if (write ? !r.writable() : !r.readable()) {
            throw new VfioException(VfioException.Reason.UNSUPPORTED, bdf + ": region " + index + " is not "
                    + (write ? "writable" : "readable"));
        }
        return r.offset() + offset;
    }

    /** mmap of the whole region {@code index} (shared, read-write as its flags allow). */
    public Mmap mmapRegion(int index) {
        return mmapRegion(index, 0, region(index).size());
    }

    /**
     * mmap of {@code length} bytes at {@code offset} (page aligned) of region {@code index}; the region must carry
     * {@code VFIO_REGION_INFO_FLAG_MMAP}. The caller owns the mapping.
     */
    @Override
    public Mmap mmapRegion(int index, long offset, long length) {
        VfioRegionInfo r = region(index);
        if (!r.mappable()) {
            throw new VfioException(VfioException.Reason.UNSUPPORTED, bdf + ": region " + index
                    + " cannot be mmap'd (no VFIO_REGION_INFO_FLAG_MMAP)");
        }
        if (length <= 0 || offset < 0 || (offset & 4095) != 0 || offset + length > r.size()) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, String.format(
                    "%s: mmap of 0x%x bytes at 0x%x does not fit region %d (size 0x%x, offset must be page aligned)",
                    bdf, length, offset, index, r.size()));
        }
        int prot = (r.readable() ? Native.PROT_READ : 0) | (r.writable() ? Native.PROT_WRITE : 0);
        try {
            return Mmap.shared(fd, length, r.offset() + offset, prot, bdf + " region " + index);
        } catch (ErrnoException e) {
            throw new VfioException(VfioException.Reason.IOCTL, e.getMessage(), e);
        }
    }

    private int ioctl(String op, long req, long arg, String ctx) {
        if (!fd.isOpen()) {
            throw new VfioException(VfioException.Reason.CLOSED, bdf + " is closed");
        }
        try {
            return fd.ioctl(op, req, arg, ctx.isEmpty() ? bdf : bdf + " " + ctx);
        } catch (ErrnoException e) {
            throw new VfioException(VfioException.Reason.IOCTL, e.getMessage(), e);
        }
    }

    public boolean isOpen() {
        return fd.isOpen();
    }

    @Override
    public synchronized void close() {
        fd.close();
        io.close();
    }

    @Override
    public String toString() {
        return "vfio " + bdf;
    }
}

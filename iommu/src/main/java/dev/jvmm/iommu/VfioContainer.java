package dev.jvmm.iommu;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.pci.IommuGroups;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.vfio.uapi.VfioConstants;
import dev.jvmm.sys.vfio.uapi.VfioIoctls;
import dev.jvmm.sys.vfio.InfoCaps;
import dev.jvmm.sys.vfio.uapi.VfioIommuType1DmaMap;
import dev.jvmm.sys.vfio.uapi.VfioIommuType1Info;
import dev.jvmm.sys.vfio.uapi.VfioIovaRangeCap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A VFIO type1 container ({@code /dev/vfio/vfio}): one IOMMU address space shared by the groups attached to it.
 * See the kernel's Documentation/driver-api/vfio.rst. The first attached group sets the IOMMU model
 * ({@code VFIO_SET_IOMMU} {@code VFIO_TYPE1v2_IOMMU}); DMA mappings are made afterwards.
 *
 * <p>Owns its groups and its live {@link DmaMapping}s. {@link #close()} is idempotent and unwinds in this order:
 * mappings (UNMAP_DMA, needs the IOMMU still set), groups (which detaches them), then the container fd.
 */
public final class VfioContainer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VfioContainer.class);
    /** The device node of the VFIO container. */
    public static final String VFIO_DEV = "vfio";
    private static final long PAGE = 4096;

    private final Path devVfio;
    private final IommuGroups groups;
    private final Fd fd;
    private final Map<Integer, VfioGroup> attached = new LinkedHashMap<>();
    private final List<DmaMapping> mappings = new ArrayList<>();
    private boolean iommuSet;
    /** VFIO_IOMMU_GET_INFO's IOVA ranges, read when the IOMMU is set; null when the kernel gives none. */
    private List<IovaRange> iovaRanges;

    /** An IOVA range the container's IOMMU can map, {@code start..end} inclusive. */
    public record IovaRange(long start, long end) {
        boolean holds(long iova, long size) {
            return Long.compareUnsigned(iova, start) >= 0 && Long.compareUnsigned(iova + size - 1, end) <= 0;
        }

        @Override
        public String toString() {
            return String.format("0x%x-0x%x", start, end);
        }
    }
    private boolean closed;

    private VfioContainer(Path devVfio, IommuGroups groups, Fd fd) {
        this.devVfio = devVfio;
        this.groups = groups;
        this.fd = fd;
    }

    /** Opens {@code /dev/vfio/vfio} of this host and checks the API version and type1v2 support. */
    public static VfioContainer open() {
        return open(Path.of("/dev/vfio"), IommuGroups.system());
    }

    /**
     * Opens {@code devVfio/vfio}; {@code VFIO_GET_API_VERSION} must be {@code VFIO_API_VERSION} and
     * {@code VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU)} true.
     */
    public static VfioContainer open(Path devVfio, IommuGroups groups) {
        Path node = devVfio.resolve(VFIO_DEV);
        if (!Files.exists(node)) {
            throw new IommuException(IommuException.Reason.VFIO_MISSING, node + " is missing: the VFIO modules are not "
                    + "loaded (modprobe vfio-pci; it loads vfio and vfio_iommu_type1)");
        }
        Fd fd;
        try {
            fd = Fd.open(node.toString(), Native.O_RDWR);
        } catch (ErrnoException e) {
            throw new IommuException(IommuException.Reason.IOCTL, "cannot open " + node + ": " + e.getMessage()
                    + (e.errno() == Errno.EACCES ? " (needs root, or a user with access to /dev/vfio)" : ""), e);
        }
        VfioContainer c = new VfioContainer(devVfio, groups, fd);
        try {
            int v = c.ioctl("VFIO_GET_API_VERSION", VfioIoctls.VFIO_GET_API_VERSION, 0);
            if (v != VfioConstants.VFIO_API_VERSION) {
                throw new IommuException(IommuException.Reason.UNSUPPORTED, "VFIO API version " + v + ", jvmm needs "
                        + VfioConstants.VFIO_API_VERSION);
            }
            if (!c.checkExtension(VfioConstants.VFIO_TYPE1v2_IOMMU)) {
                throw new IommuException(IommuException.Reason.UNSUPPORTED, "the kernel's VFIO has no type1v2 IOMMU "
                        + "(VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU) is 0): modprobe vfio_iommu_type1");
            }
            return c;
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** {@code VFIO_GET_API_VERSION}. */
    public int apiVersion() {
        return ioctl("VFIO_GET_API_VERSION", VfioIoctls.VFIO_GET_API_VERSION, 0);
    }

    /** {@code VFIO_CHECK_EXTENSION}: whether the container supports {@code extension} (an IOMMU type). */
    public boolean checkExtension(int extension) {
        return ioctl("VFIO_CHECK_EXTENSION", VfioIoctls.VFIO_CHECK_EXTENSION, extension) > 0;
    }

    public IommuGroups groups() {
        return groups;
    }

    /**
     * The group of {@code bdf}, attached to this container: the device must be bound to vfio-pci and its group
     * viable ({@link IommuGroups#requireVfioReady}). A group already attached is returned as it is.
     */
    public synchronized VfioGroup groupFor(String bdf) {
        return group(IommuException.mapping(() -> groups.requireVfioReady(PciAddress.parse(bdf))));
    }

    /**
     * Opens {@code /dev/vfio/N}, checks {@code VFIO_GROUP_FLAGS_VIABLE}, {@code VFIO_GROUP_SET_CONTAINER}, and with the
     * first group {@code VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU)}. The container owns the group.
     */
    public synchronized VfioGroup group(int groupId) {
        checkOpen();
        VfioGroup g = attached.get(groupId);
        if (g != null) {
            return g;
        }
        g = VfioGroup.open(devVfio, groupId, groups);
        try {
            g.setContainer(fd);
            if (!iommuSet) {
                ioctl("VFIO_SET_IOMMU", VfioIoctls.VFIO_SET_IOMMU, VfioConstants.VFIO_TYPE1v2_IOMMU);
                iommuSet = true;
                iovaRanges = readIovaRanges();
                LOG.debug("vfio: IOVA ranges {}", iovaRanges);
            }
        } catch (RuntimeException e) {
            g.close();
            throw e;
        }
        attached.put(groupId, g);
        LOG.debug("vfio: group {} attached to the container", groupId);
        return g;
    }

    /**
     * Takes group {@code groupId} out of the container and closes it (closing the group fd unsets its container),
     * for a hot-removed device whose group no other device uses. The container's IOMMU model and mappings stay for
     * the other groups; the last group cannot leave this way (the model would go with it): close the container.
     */
    public synchronized void detach(int groupId) {
        checkOpen();
        VfioGroup g = attached.get(groupId);
        if (g == null) {
            return;
        }
        if (attached.size() == 1) {
            throw new IommuException(IommuException.Reason.INVALID_ARGUMENT, "vfio: group " + groupId
                    + " is the container's last group: close the container instead");
        }
        attached.remove(groupId);
        g.close();
        LOG.debug("vfio: group {} detached from the container", groupId);
    }

    /** The groups attached so far, in attach order. */
    public synchronized List<VfioGroup> attachedGroups() {
        return List.copyOf(attached.values());
    }

    /**
     * {@code VFIO_IOMMU_MAP_DMA}: lets the devices of this container read and write {@code size} bytes of this
     * process's memory at {@code vaddr} through IO virtual address {@code iova}. The pages are pinned (and counted
     * against RLIMIT_MEMLOCK). The returned owner unmaps on close; the container unmaps what is still mapped when
     * it closes.
     */
    public synchronized DmaMapping map(long vaddr, long iova, long size) {
        checkOpen();
        checkDmaRange(vaddr, iova, size);
        if (!iommuSet) {
            throw new IommuException(IommuException.Reason.INVALID_ARGUMENT,
                    "no group is attached to the container yet: attach a group before mapping DMA");
        }
        if (iovaRanges != null && iovaRanges.stream().noneMatch(r -> r.holds(iova, size))) {
            throw new IommuException(IommuException.Reason.INVALID_ARGUMENT, String.format(
                    "IOVA 0x%x-0x%x is outside the ranges the IOMMU can map (%s; VFIO_IOMMU_GET_INFO): the "
                    + "rest is reserved, e.g. for MSI or by the firmware", iova, iova + size - 1, iovaRanges));
        }
        String ctx = String.format("vaddr=0x%x iova=0x%x size=0x%x", vaddr, iova, size);
        try (NativeBuffer b = new NativeBuffer(VfioIommuType1DmaMap.SIZEOF)) {
            b.putInt(VfioIommuType1DmaMap.ARGSZ, VfioIommuType1DmaMap.SIZEOF);
            b.putInt(VfioIommuType1DmaMap.FLAGS, VfioConstants.VFIO_DMA_MAP_FLAG_READ | VfioConstants.VFIO_DMA_MAP_FLAG_WRITE);
            b.putLong(VfioIommuType1DmaMap.VADDR, vaddr);
            b.putLong(VfioIommuType1DmaMap.IOVA, iova);
            b.putLong(VfioIommuType1DmaMap.SIZE, size);
            try {
                fd.ioctl("VFIO_IOMMU_MAP_DMA", VfioIoctls.VFIO_IOMMU_MAP_DMA, b.address(), ctx);
            } catch (ErrnoException e) {
                if (e.errno() == Errno.ENOMEM) {
                    throw new IommuException(IommuException.Reason.MEMLOCK, "cannot pin " + (size >> 10)
                            + " KiB for device DMA: RLIMIT_MEMLOCK is too low (" + memlockLimit() + "); guest RAM "
                            + "given to a VFIO device must be locked: raise it (ulimit -l unlimited, systemd "
                            + "LimitMEMLOCK=infinity) or run with CAP_IPC_LOCK", e);
                }
                throw new IommuException(IommuException.Reason.IOCTL, e.getMessage(), e);
            }
        }
        DmaMapping m = new DmaMapping(this, vaddr, iova, size);
        mappings.add(m);
        return m;
    }

    /**
     * The IOVA ranges the IOMMU can map ({@code VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE}), known once a group is
     * attached; empty before that, and when the kernel reports none (then nothing is checked here).
     */
    public synchronized List<IovaRange> iovaRanges() {
        return iovaRanges == null ? List.of() : iovaRanges;
    }

    /** {@code VFIO_IOMMU_GET_INFO}, asked twice when the capability chain needs a larger buffer. */
    private List<IovaRange> readIovaRanges() {
        int argsz = VfioIommuType1Info.SIZEOF;
        for (int attempt = 0; attempt < 2; attempt++) {
            try (NativeBuffer b = new NativeBuffer(argsz)) {
                b.putInt(VfioIommuType1Info.ARGSZ, argsz);
                ioctl("VFIO_IOMMU_GET_INFO", VfioIoctls.VFIO_IOMMU_GET_INFO, b.address());
                int flags = b.getInt(VfioIommuType1Info.FLAGS);
                int need = b.getInt(VfioIommuType1Info.ARGSZ);
                if ((flags & VfioConstants.VFIO_IOMMU_INFO_CAPS) == 0) {
                    return null;
                }
                if (need > argsz) {
                    argsz = need;
                    continue;
                }
                return iovaRanges(b, b.getInt(VfioIommuType1Info.CAP_OFFSET), argsz);
            }
        }
        return null;
    }

    /** The IOVA ranges in the capability chain at {@code at} of {@code b} ({@code len} bytes), null when absent. */
    static List<IovaRange> iovaRanges(NativeBuffer b, int first, int len) {
        java.util.function.Function<String, RuntimeException> err = m -> new IommuException(IommuException.Reason.IOCTL,
                "VFIO_IOMMU_GET_INFO: " + m);
        int at = InfoCaps.find(b, first, len, VfioConstants.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, err);
        if (at < 0) {
            return null;
        }
        int n = b.getInt(at + VfioIovaRangeCap.NR_IOVAS);
        InfoCaps.checkEntries(at + VfioIovaRangeCap.IOVA_RANGES, n, VfioIovaRangeCap.RANGE_SIZE, len, "IOVA range capability", err);
        List<IovaRange> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int e = at + VfioIovaRangeCap.IOVA_RANGES + i * VfioIovaRangeCap.RANGE_SIZE;
            l.add(new IovaRange(b.getLong(e), b.getLong(e + 8)));
        }
        return List.copyOf(l);
    }

    /** MAP_DMA's arguments: page aligned, size above 0, no wrap-around of the IOVA or the address. */
    static void checkDmaRange(long vaddr, long iova, long size) {
        if (size <= 0 || vaddr == 0 || (vaddr & (PAGE - 1)) != 0 || (iova & (PAGE - 1)) != 0 || (size & (PAGE - 1)) != 0) {
            throw new IommuException(IommuException.Reason.INVALID_ARGUMENT, String.format(
                    "DMA mapping vaddr=0x%x iova=0x%x size=0x%x: all must be 4 KiB aligned, vaddr and size not 0",
                    vaddr, iova, size));
        }
        if (Long.compareUnsigned(iova + size - 1, iova) < 0 || Long.compareUnsigned(vaddr + size - 1, vaddr) < 0) {
            throw new IommuException(IommuException.Reason.INVALID_ARGUMENT, String.format(
                    "DMA mapping vaddr=0x%x iova=0x%x size=0x%x wraps around the address space", vaddr, iova, size));
        }
    }

    /** Called by {@link DmaMapping#close()}. */
    synchronized void unmap(DmaMapping m) {
        mappings.remove(m);
        if (closed) {
            return;
        }
        m.unmapIn(fd);
    }

    /** The live mappings, oldest first. */
    public synchronized List<DmaMapping> mappings() {
        return List.copyOf(mappings);
    }

    /** "Max locked memory" from /proc/self/limits, for error messages. */
    static String memlockLimit() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (l.startsWith("Max locked memory")) {
                    String[] w = l.substring("Max locked memory".length()).trim().split("\\s+");
                    return "soft limit " + w[0] + (w[0].equals("unlimited") ? "" : " bytes");
                }
            }
        } catch (IOException | RuntimeException e) {
            // only for the message
        }
        return "limit unknown";
    }

    private int ioctl(String op, long req, long arg) {
        try {
            return fd.ioctl(op, req, arg, devVfio.resolve(VFIO_DEV).toString());
        } catch (ErrnoException e) {
            throw new IommuException(IommuException.Reason.IOCTL, e.getMessage(), e);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("VFIO container is closed");
        }
    }

    /** The raw container fd, for {@code KVM_DEV_VFIO} or diagnostics. */
    public int fd() {
        return fd.fd();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        // UNMAP needs the IOMMU model, which goes away with the last group: mappings first.
        int n = mappings.size();
        long bytes = 0;
        for (int i = mappings.size() - 1; i >= 0; i--) {
            bytes += mappings.get(i).size();
            DmaMapping m = mappings.get(i);
            try {
                m.unmapIn(fd);
            } catch (RuntimeException e) {
                LOG.warn("vfio: {}", e.getMessage());
            }
            m.markClosed();
        }
        mappings.clear();
        closed = true;
        List<VfioGroup> gs = new ArrayList<>(attached.values());
        for (int i = gs.size() - 1; i >= 0; i--) {
            gs.get(i).close();
        }
        attached.clear();
        fd.close();
        if (n > 0) {
            log(n, bytes);
        }
    }

    private static void log(int n, long bytes) {
        LOG.info("vfio: container closed, {} DMA mapping(s) of {} KiB unmapped", n, bytes >> 10);
    }
}

package dev.jvmm.vfio.pci;

import static dev.jvmm.sys.vfio.uapi.VfioConstants.*;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Mmap;
import dev.jvmm.vfio.VfioDeviceInfo;
import dev.jvmm.vfio.VfioDeviceIo;
import dev.jvmm.vfio.VfioException;
import dev.jvmm.vfio.VfioIrqInfo;
import dev.jvmm.vfio.VfioRegionInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A VFIO PCI device made of bytes, for tests of {@link VfioPciDevice}: config space (256 or 4096 bytes, any
 * content: header, BAR registers, a capability list that may loop or overlap), BAR, ROM and config regions with
 * their sizes and flags (sparse mmap areas included), irq counts, and the rules vfio-pci applies to what is asked of
 * it: region and irq indexes in range, accesses inside a region of 1, 2, 4 or 8 bytes, mmaps page aligned inside a
 * mappable region (and inside one sparse area), {@code SET_IRQS} within an index's count and one interrupt kind at a
 * time, unmask eventfds for an enabled INTx only, reset only where offered. A refusal is a {@link VfioException},
 * as from the real device.
 *
 * <p>It records what reaches the "hardware": every config-space write, every {@code SET_IRQS}, resets, the mmaps it
 * made (real anonymous mappings through {@link Mmap}, so that MemoryGuard knows them), and whether it was closed.
 * BAR contents are a sparse byte map; config writes land in the config bytes.
 *
 * <p>{@link #decode} builds one from a fuzz input (the layout is {@link VfioPciSeeds}'s).
 */
final class FakeVfioDevice implements VfioDeviceIo {
    /** One config write as it reached the device. */
    record ConfigWrite(int offset, int size, int value) {
    }

    /** One mmap handed out: region {@code index}, {@code length} bytes at {@code offset}. */
    record Mapping(int index, long offset, long length, Mmap map) {
        boolean unmapped() {
            try {
                map.address();
                return false;
            } catch (IllegalStateException e) {
                return true;
            }
        }
    }

    static final int NUM_REGIONS = 9;
    static final int PAGE = 4096;

    final byte[] config;
    private final VfioDeviceInfo info;
    private final VfioRegionInfo[] regions = new VfioRegionInfo[NUM_REGIONS];
    private final int[] irqCounts;
    private final List<Map<Long, Byte>> contents = new ArrayList<>();
    /** Where a test's {@link FakeIrqs} says whether an eventfd is a live one; null: any. */
    FakeIrqs irqs;

    final List<ConfigWrite> configWrites = new ArrayList<>();
    final List<String> irqSets = new ArrayList<>();
    final List<Mapping> mappings = new ArrayList<>();
    /** The irq index handed eventfds now (-1: none), and whether INTx has an unmask eventfd. */
    int enabledIndex = -1;
    int enabledCount;
    boolean unmaskEventfd;
    int resets;
    boolean closed;
    /** SET_IRQS calls refused (an index the device does not have, count exceeded, another kind enabled). */
    int refusedIrqSets;

    FakeVfioDevice(byte[] config, int flags, VfioRegionInfo[] bars, VfioRegionInfo rom, int[] irqCounts,
            boolean configWritable) {
        this.config = config;
        this.irqCounts = irqCounts;
        this.info = new VfioDeviceInfo(flags, NUM_REGIONS, irqCounts.length);
        for (int i = 0; i < 6; i++) {
            regions[i] = bars[i];
        }
        regions[VFIO_PCI_ROM_REGION_INDEX] = rom;
        regions[VFIO_PCI_CONFIG_REGION_INDEX] = new VfioRegionInfo(VFIO_PCI_CONFIG_REGION_INDEX,
                VFIO_REGION_INFO_FLAG_READ | (configWritable ? VFIO_REGION_INFO_FLAG_WRITE : 0), config.length,
                (long) VFIO_PCI_CONFIG_REGION_INDEX << 40);
        regions[VFIO_PCI_VGA_REGION_INDEX] = new VfioRegionInfo(VFIO_PCI_VGA_REGION_INDEX, 0, 0, 0);
        for (int i = 0; i < NUM_REGIONS; i++) {
            contents.add(new HashMap<>());
        }
    }

    /**
     * A device from a fuzz input: a flags byte (bit 0 not a PCI device, 1 reset offered, 2 conventional config space
     * only, 3 an expansion ROM, 4 irq counts from the input instead of as vfio-pci derives them, 5 config region
     * read-only), the 64-byte header, up to 8 capabilities (kind, offset, fields) chained in that order, up to 7
     * byte patches anywhere in config space (loops, overlaps, bad pointers), the six BAR regions (size, flags, sparse
     * areas), the ROM's size, and the irq counts when asked for.
     */
    static FakeVfioDevice decode(FuzzCursor in) {
        int f = in.u8();
        int cfgSize = (f & 4) != 0 ? 256 : 4096;
        byte[] c = new byte[cfgSize];
        for (int i = 0; i < 64; i++) {
            c[i] = (byte) in.u8();
        }
        int n = in.u8() % 9;
        int[] offs = new int[n];
        for (int k = 0; k < n; k++) {
            int kind = in.u8() % 6;
            int off = in.u8() & 0xfc;
            if (off < 0x40) {
                off |= 0x40;
            }
            offs[k] = off;
            switch (kind) {
                case 0 -> { // MSI-X: control, table offset/BIR, PBA offset/BIR
                    c[off] = 0x11;
                    put(c, off + 2, 2, in.u16());
                    put(c, off + 4, 4, in.u32());
                    put(c, off + 8, 4, in.u32());
                }
                case 1 -> { // MSI: control
                    c[off] = 0x05;
                    put(c, off + 2, 2, in.u16());
                }
                case 2 -> { // PCI Express: flags (version, port type), device capabilities
                    c[off] = 0x10;
                    put(c, off + 2, 2, in.u16());
                    put(c, off + 4, 4, in.u32());
                }
                case 3 -> { // Power Management: PMC, PMCSR
                    c[off] = 0x01;
                    put(c, off + 2, 2, in.u16());
                    put(c, off + 4, 2, in.u16());
                }
                case 4 -> c[off] = (byte) in.u8(); // any other ID
                default -> { // vendor specific with a length
                    c[off] = 0x09;
                    c[off + 2] = (byte) in.u8();
                }
            }
        }
        if (n > 0) {
            c[0x34] = (byte) offs[0];
            c[0x06] |= 0x10;
            for (int k = 0; k < n; k++) {
                c[offs[k] + 1] = (byte) (k + 1 < n ? offs[k + 1] : 0);
            }
        }
        int patches = in.u8() % 8;
        for (int k = 0; k < patches; k++) {
            int o = in.u16() % cfgSize;
            c[o] = (byte) in.u8();
        }
        VfioRegionInfo[] bars = new VfioRegionInfo[6];
        for (int i = 0; i < 6; i++) {
            int e = in.u8();
            if (e == 0) {
                bars[i] = new VfioRegionInfo(i, 0, 0, 0);
                continue;
            }
            long size = 1L << ((e - 1) % 40);
            int rf = in.u8();
            int flags = ((rf & 1) == 0 ? VFIO_REGION_INFO_FLAG_READ : 0) | ((rf & 2) == 0 ? VFIO_REGION_INFO_FLAG_WRITE : 0)
                    | ((rf & 4) != 0 ? VFIO_REGION_INFO_FLAG_MMAP : 0);
            List<VfioRegionInfo.Area> sparse = null;
            if ((rf & 8) != 0) {
                sparse = new ArrayList<>();
                int k = in.u8() % 3;
                for (int a = 0; a < k; a++) {
                    long ao = (long) in.u16() * PAGE, as = (long) in.u16() * PAGE;
                    if (as > 0 && ao + as <= size) {
                        sparse.add(new VfioRegionInfo.Area(ao, as));
                    }
                }
                sparse.sort((x, y) -> Long.compare(x.offset(), y.offset()));
                flags |= VFIO_REGION_INFO_FLAG_CAPS;
            }
            bars[i] = new VfioRegionInfo(i, flags, size, (long) i << 40, sparse);
        }
        VfioRegionInfo rom = (f & 8) != 0
                ? new VfioRegionInfo(VFIO_PCI_ROM_REGION_INDEX, VFIO_REGION_INFO_FLAG_READ, 1L << (in.u8() % 32), 6L << 40)
                : new VfioRegionInfo(VFIO_PCI_ROM_REGION_INDEX, 0, 0, 0);
        int[] counts;
        if ((f & 16) != 0) {
            counts = new int[in.u8() % 6];
            for (int i = 0; i < counts.length; i++) {
                counts[i] = in.u16() % 4097;
            }
        } else {
            counts = kernelIrqCounts(c);
        }
        int devFlags = ((f & 1) == 0 ? VFIO_DEVICE_FLAGS_PCI : 0) | ((f & 2) != 0 ? VFIO_DEVICE_FLAGS_RESET : 0);
        return new FakeVfioDevice(c, devFlags, bars, rom, counts, (f & 32) == 0);
    }

    private static void put(byte[] c, int at, int size, int v) {
        for (int i = 0; i < size && at + i < c.length; i++) {
            c[at + i] = (byte) (v >>> (8 * i));
        }
    }

    /** The irq counts vfio-pci reports (vfio_pci_get_irq_count): INTx with a pin, MSI and MSI-X from their caps. */
    static int[] kernelIrqCounts(byte[] c) {
        int[] counts = new int[5];
        counts[VFIO_PCI_INTX_IRQ_INDEX] = c[0x3d] != 0 ? 1 : 0;
        counts[VFIO_PCI_REQ_IRQ_INDEX] = 1;
        for (int[] cap : capList(c)) {
            int ctl = (c[cap[1] + 2] & 0xff) | (c[(cap[1] + 3) % c.length] & 0xff) << 8;
            if (cap[0] == 0x05 && counts[VFIO_PCI_MSI_IRQ_INDEX] == 0) {
                counts[VFIO_PCI_MSI_IRQ_INDEX] = 1 << ((ctl >>> 1) & 7);
            } else if (cap[0] == 0x11 && counts[VFIO_PCI_MSIX_IRQ_INDEX] == 0) {
                counts[VFIO_PCI_MSIX_IRQ_INDEX] = (ctl & 0x7ff) + 1;
            } else if (cap[0] == 0x10) {
                counts[VFIO_PCI_ERR_IRQ_INDEX] = 1;
            }
        }
        return counts;
    }

    /** The capability list as a guest or the kernel walks it: {id, offset} pairs, at most 48. */
    static List<int[]> capList(byte[] c) {
        List<int[]> l = new ArrayList<>();
        if ((c[0x06] & 0x10) == 0) {
            return l;
        }
        int p = c[0x34] & 0xfc;
        for (int i = 0; p >= 0x40 && i < 48; i++) {
            l.add(new int[] {c[p] & 0xff, p});
            p = c[p + 1] & 0xfc;
        }
        return l;
    }

    @Override
    public String bdf() {
        return "0000:fa:ke.0";
    }

    @Override
    public VfioDeviceInfo info() {
        return info;
    }

    @Override
    public VfioRegionInfo region(int index) {
        if (index < 0 || index >= NUM_REGIONS) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, bdf() + ": region " + index + " out of range");
        }
        return regions[index];
    }

    @Override
    public VfioIrqInfo irq(int index) {
        checkIrqIndex(index);
        return new VfioIrqInfo(index, VFIO_IRQ_INFO_EVENTFD | (index == VFIO_PCI_INTX_IRQ_INDEX
                ? VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED : 0), irqCounts[index]);
    }

    private void checkIrqIndex(int index) {
        if (closed) {
            throw new VfioException(VfioException.Reason.CLOSED, bdf() + " is closed");
        }
        if (index < 0 || index >= irqCounts.length) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, bdf() + ": irq index " + index
                    + " out of range (the device has " + irqCounts.length + ")");
        }
    }

    @Override
    public void reset() {
        if (!info.canReset()) {
            throw new VfioException(VfioException.Reason.UNSUPPORTED, bdf() + " does not support VFIO_DEVICE_RESET");
        }
        resets++;
    }

    private long check(int index, long offset, int size, boolean write) {
        if (closed) {
            throw new VfioException(VfioException.Reason.CLOSED, bdf() + " is closed");
        }
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, bdf() + ": access size " + size);
        }
        VfioRegionInfo r = region(index);
        if (offset < 0 || offset + size > r.size()) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, String.format(
                    "%s: %d-byte access at 0x%x is outside region %d (size 0x%x)", bdf(), size, offset, index, r.size()));
        }
        if (write ? !r.writable() : !r.readable()) {
            throw new VfioException(VfioException.Reason.UNSUPPORTED, bdf() + ": region " + index + " is not "
                    + (write ? "writable" : "readable"));
        }
        return offset;
    }

    @Override
    public long read(int index, long offset, int size) {
        check(index, offset, size, false);
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            int b = index == VFIO_PCI_CONFIG_REGION_INDEX ? config[(int) offset + i] & 0xff
                    : contents.get(index).getOrDefault(offset + i, (byte) 0) & 0xff;
            v = v << 8 | b;
        }
        return v;
    }

    @Override
    public void write(int index, long offset, int size, long value) {
        check(index, offset, size, true);
        if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
            configWrites.add(new ConfigWrite((int) offset, size, (int) value));
            for (int i = 0; i < size; i++) {
                config[(int) offset + i] = (byte) (value >>> (8 * i));
            }
            return;
        }
        for (int i = 0; i < size; i++) {
            contents.get(index).put(offset + i, (byte) (value >>> (8 * i)));
        }
    }

    @Override
    public Mmap mmapRegion(int index, long offset, long length) {
        if (closed) {
            throw new VfioException(VfioException.Reason.CLOSED, bdf() + " is closed");
        }
        VfioRegionInfo r = region(index);
        if (!r.mappable()) {
            throw new VfioException(VfioException.Reason.UNSUPPORTED, bdf() + ": region " + index + " cannot be mmap'd");
        }
        if (length <= 0 || offset < 0 || (offset & (PAGE - 1)) != 0 || offset + length > r.size()) {
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, String.format(
                    "%s: mmap of 0x%x bytes at 0x%x does not fit region %d (size 0x%x)", bdf(), length, offset, index,
                    r.size()));
        }
        boolean inArea = false;
        for (VfioRegionInfo.Area a : r.mappableAreas()) {
            inArea |= offset >= a.offset() && offset + length <= a.offset() + a.size();
        }
        if (!inArea) {
            throw new VfioException(VfioException.Reason.IOCTL, String.format(
                    "%s: mmap of 0x%x bytes at 0x%x of region %d is outside its sparse mmap areas: EINVAL", bdf(),
                    length, offset, index));
        }
        try {
            Mmap m = Mmap.anonymous(length, bdf() + " region " + index);
            mappings.add(new Mapping(index, offset, length, m));
            return m;
        } catch (ErrnoException e) {
            throw new VfioException(VfioException.Reason.IOCTL, e.getMessage(), e);
        }
    }

    @Override
    public void setIrqEventfds(int index, int start, int... eventfds) {
        if (!closed && (index < 0 || index >= irqCounts.length)) {
            refusedIrqSets++; // EINVAL from vfio_set_irqs_validate_and_prepare, a refusal like a count exceeded
        }
        checkIrqIndex(index);
        if (eventfds.length == 0 || start < 0 || (long) start + eventfds.length > irqCounts[index]) {
            refusedIrqSets++;
            throw new VfioException(VfioException.Reason.INVALID_ARGUMENT, bdf() + ": irq index " + index + " has "
                    + irqCounts[index] + " vectors; " + eventfds.length + " from " + start + " requested");
        }
        if (enabledIndex >= 0 && enabledIndex != index && index <= VFIO_PCI_MSIX_IRQ_INDEX) {
            refusedIrqSets++;
            throw new VfioException(VfioException.Reason.IOCTL, bdf() + ": SET_IRQS index " + index + " while index "
                    + enabledIndex + " is enabled: EINVAL");
        }
        for (int fd : eventfds) {
            if (fd != -1 && irqs != null && !irqs.isLiveEventFd(fd)) {
                throw new AssertionError("SET_IRQS index " + index + " was handed fd " + fd
                        + ", which is no live vector's or INTx's eventfd");
            }
        }
        irqSets.add("trigger index=" + index + " start=" + start + " count=" + eventfds.length);
        if (index <= VFIO_PCI_MSIX_IRQ_INDEX) {
            enabledIndex = index;
            enabledCount = start + eventfds.length;
        }
    }

    @Override
    public void setIrqUnmaskEventfd(int index, int vector, int eventfd) {
        checkIrqIndex(index);
        if (index != VFIO_PCI_INTX_IRQ_INDEX || enabledIndex != index || vector != 0) {
            throw new VfioException(VfioException.Reason.IOCTL, bdf() + ": unmask eventfd for index " + index
                    + " vector " + vector + " while index " + enabledIndex + " is enabled: EINVAL");
        }
        if (irqs != null && !irqs.isLiveEventFd(eventfd)) {
            throw new AssertionError("the INTx unmask eventfd " + eventfd + " is not a live resamplefd");
        }
        irqSets.add("unmask index=" + index);
        unmaskEventfd = true;
    }

    @Override
    public void disableIrqs(int index) {
        checkIrqIndex(index);
        if (enabledIndex >= 0 && enabledIndex != index && index <= VFIO_PCI_MSIX_IRQ_INDEX) {
            throw new VfioException(VfioException.Reason.IOCTL, bdf() + ": disable index " + index + " while index "
                    + enabledIndex + " is enabled: EINVAL");
        }
        irqSets.add("disable index=" + index);
        if (enabledIndex == index) {
            enabledIndex = -1;
            enabledCount = 0;
            unmaskEventfd = false;
        }
    }

    @Override
    public void close() {
        closed = true;
    }
}

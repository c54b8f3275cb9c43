package dev.jvmm.vfio.pci;

import dev.jvmm.core.Bus;
import dev.jvmm.core.BusDevice;
import dev.jvmm.core.MemorySlot;
import dev.jvmm.core.MemorySlotSink;
import dev.jvmm.core.VmCoreException;
import dev.jvmm.core.irq.InterruptController;
import dev.jvmm.core.irq.MsiInterrupt;
import dev.jvmm.core.pci.MsiCapability;
import dev.jvmm.core.pci.MsixCapability;
import dev.jvmm.core.pci.MsixTable;
import dev.jvmm.core.pci.PciBar;
import dev.jvmm.core.pci.PciConfigSpace;
import dev.jvmm.core.pci.PciFunction;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.vfio.uapi.VfioConstants;
import dev.jvmm.vfio.VfioDeviceIo;
import dev.jvmm.vfio.VfioException;
import dev.jvmm.vfio.VfioRegionInfo;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A host PCI function passed through to the guest with VFIO, as a PCI function on the VM's root bus.
 *
 * <p>Config space is virtualised: the header (identity, class, subsystem) is copied from the device, the BARs are
 * emulated (sizing, placement and relocation by the guest, with decoding following the command register), the
 * command register's memory, bus-master and INTx-disable bits are also written to the device, and the guest sees
 * emulated MSI-X and MSI capabilities shaped like the device's own (table size and location; vector count), and no
 * other capability. The guest's MSI-X table is emulated ({@link MsixTable}); each vector is an irq-routing MSI route plus
 * irqfd, and when the guest enables MSI-X, {@code VFIO_DEVICE_SET_IRQS} hands the <em>irqfds' eventfds</em> to
 * VFIO, so the device's interrupts go from the host's interrupt handler straight into KVM, never through Java.
 * A vector the guest masks is held ({@link MsixTable#deviceSignalled}): its irqfd is detached from KVM, so it does
 * not fire; what the device signals meanwhile is its pending bit in the PBA, and unmasking delivers it.
 *
 * <p>Interrupts: one kind at a time is handed to VFIO, the one the guest has on (MSI-X, else MSI, else INTx). MSI
 * vectors are irq-routing routes plus irqfds like MSI-X ones; INTx is a level irqfd on the slot's irqchip pin whose
 * resamplefd is VFIO's unmask eventfd, so the guest's EOI unmasks the host line without passing through Java.
 *
 * <p>BARs: a BAR the kernel lets us mmap is mmap'd once and mapped into the guest as KVM memory slots at the address
 * the guest programs (the slots move when the guest moves the BAR), except the pages that hold the MSI-X table or
 * PBA: those pages are trapped on the MMIO bus, where table and PBA accesses go to the emulation and the rest of the
 * page to the device with pread/pwrite. A BAR that cannot be mmap'd is trapped whole the same way.
 *
 * <p>A BAR (or the expansion ROM) the guest places over another region (another BAR of this function, another
 * device's range, a memory slot) is, as on hardware, not reachable where it overlaps: each piece (a memory slot or a
 * trapped range) that KVM or the bus refuses there is left out, with one warning naming the BAR, the address and
 * what it overlaps; the rest of the BAR is mapped, and the guest's config write goes on. Pieces left out are placed
 * again whenever a BAR or the ROM of this function moves (the overlapping one may have gone), and all of them when
 * the guest moves the BAR itself; only what was registered is ever unregistered.
 *
 * <p>Owns its mmaps, slots, MSI vectors and bus registrations; {@link #close()} (idempotent) releases them, disables
 * MSI-X on the device and closes the VFIO device. The caller keeps the container (and its DMA mappings) open
 * until after this is closed.
 */
public final class VfioPciDevice extends PciFunction implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VfioPciDevice.class);
    private static final int PAGE = 4096;
    /** KVM slot numbers a device may use from its {@code firstSlot}: 6 BARs, plus up to 2 more for the MSI-X BAR's split. */
    public static final int SLOTS = 8;
    private static final int CMD_PASSED = PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_MEMORY
            | PciConfigSpace.COMMAND_BUS_MASTER | PciConfigSpace.COMMAND_INTX_DISABLE;
    /** Expansion ROM base address register (type 0 header) and its enable bit. */
    private static final int ROM_BAR = 0x30;
    private static final int ROM_ENABLE = 1;

    private final VfioDeviceIo dev;
    private final Bus mmio;
    private final Bus pio;
    private final PassedCapabilities passedCaps;
    /** What the guest's capability list shows beyond MSI and MSI-X, and what it hides. */
    private final List<String> shownCaps = new ArrayList<>();
    private final List<String> hiddenCaps = new ArrayList<>();
    /** The expansion ROM (read-only, trapped): its size (0: none) and where it is decoded now (-1: nowhere). */
    private long romSize;
    private long romDecoded = -1;
    /** Where the guest decodes the ROM now (-1: nowhere); differs from {@link #romDecoded} while it overlaps. */
    private long romWanted = -1;
    private final MemorySlotSink slots;
    private final int firstSlot;
    /** Null when the device has no MSI-X. */
    private final MsixTable msix;
    private final MsixCapability msixCap;
    /** -1 when the device has no MSI-X. */
    private final int msixBar;
    private final List<MsiInterrupt> vectors = new ArrayList<>();
    /** Null when the device has no MSI. */
    private final MsiCapability msiCap;
    private final List<MsiInterrupt> msiVectors = new ArrayList<>();
    /** The MSI vectors on the device now, and the message each was routed with. */
    private int msiOnDevice;
    private final long[] msiRoutedAddress = new long[32];
    private final int[] msiRoutedData = new int[32];
    /** INTx: VFIO's trigger eventfd is the irqfd, its unmask eventfd KVM's resamplefd; all null without INTx. */
    private EventFd intxTrigger;
    private EventFd intxResample;
    private AutoCloseable intxIrqfd;

    /** Which of the device's interrupt kinds is handed to VFIO now (at most one: vfio-pci allows one at a time). */
    private enum Mode { NONE, INTX, MSI, MSIX }

    private Mode onDevice = Mode.NONE;
    /** Per BAR: the mmap of each of its pieces (null for trapped ones), in piece order. */
    private final List<List<Mmap>> maps = new ArrayList<>();
    /** Per BAR: its pieces in offset order, each mapped directly (a KVM slot) or trapped (MMIO bus). */
    private final List<List<Piece>> pieces = new ArrayList<>();
    /** Per BAR, per piece: where it is registered now (-1: nowhere: not decoded, or refused as overlapping). */
    private final List<long[]> placedAt = new ArrayList<>();
    /** Per BAR, per piece: the memory slot of a direct piece registered now, else null. */
    private final List<MemorySlot[]> placedSlots = new ArrayList<>();

    /** A page-aligned part of a BAR; {@code slot} is its KVM slot number when {@code direct}. */
    record Piece(long offset, long length, boolean direct, int slot) {
    }
    private boolean closed;

    /**
     * Where a passed-through function lives in the VM.
     *
     * @param irqs      MSI vectors (irq-routing's router) and INTx irqfds
     * @param mmio      where trapped memory BAR pages and the expansion ROM are registered
     * @param pio       where I/O BARs are registered (every access is trapped and forwarded)
     * @param slots     where BAR memory slots go ({@code VmFd::setUserMemoryRegion})
     * @param firstSlot the first of {@link #SLOTS} KVM slot numbers reserved for this device's BARs
     * @param intxGsi   the irqchip pin of the slot's INTx pin 0..3 (INTA#..INTD#), as the firmware tables route it
     */
    public record Placement(InterruptController irqs, Bus mmio, Bus pio, MemorySlotSink slots, int firstSlot,
            java.util.function.IntUnaryOperator intxGsi) {
    }

    /**
     * @param dev the opened VFIO device ({@link dev.jvmm.vfio.VfioDevice}; owned from now on: closed with this object,
     *            also on failure)
     */
    public VfioPciDevice(String name, VfioDeviceIo dev, Placement at) {
        this(name, dev, at, true);
    }

    /**
     * @param dev  the opened VFIO device (owned from now on: closed with this object, also on failure)
     * @param msix false hides the device's MSI-X capability: the guest's driver then uses MSI or INTx
     */
    public VfioPciDevice(String name, VfioDeviceIo dev, Placement at, boolean msix) {
        this(name, dev, at, msix ? PassedCapabilities.list(dev) : PassedCapabilities.list(dev).stream()
                .filter(c -> c.id() != MsixCapability.CAP_ID).toList(), msix);
    }

    private VfioPciDevice(String name, VfioDeviceIo dev, Placement at, List<PassedCapabilities.Cap> caps, boolean msixOn) {
        super(name, dev.readConfig(PciConfigSpace.VENDOR_ID, 2), dev.readConfig(PciConfigSpace.DEVICE_ID, 2),
                dev.readConfig(PciConfigSpace.REVISION_ID, 4) >>> 8, dev.readConfig(PciConfigSpace.REVISION_ID, 1),
                PassedCapabilities.find(caps, PassedCapabilities.CAP_EXP) >= 0);
        InterruptController irqs = at.irqs();
        java.util.function.IntUnaryOperator intxGsi = at.intxGsi();
        this.dev = dev;
        this.mmio = at.mmio();
        this.pio = at.pio();
        this.slots = at.slots();
        this.firstSlot = at.firstSlot();
        this.passedCaps = new PassedCapabilities(dev, caps);
        try {
            if (!dev.info().isPci()) {
                throw new VfioException(VfioException.Reason.UNSUPPORTED, dev.bdf() + " is not a vfio-pci device");
            }
            if (dev.info().canReset()) {
                dev.reset(); // start from a clean function, whatever the previous user left (FLR)
            }
            setSubsystem(dev.readConfig(PciConfigSpace.SUBSYSTEM_VENDOR_ID, 2), dev.readConfig(PciConfigSpace.SUBSYSTEM_ID, 2));
            declareBars();
            int cap = PassedCapabilities.find(caps, MsixCapability.CAP_ID);
            int msiAt = PassedCapabilities.find(caps, MsiCapability.CAP_ID);
            int pin = dev.readConfig(PciConfigSpace.INTERRUPT_PIN, 1);
            boolean intx = pin >= 1 && pin <= 4 && dev.irq(VfioConstants.VFIO_PCI_INTX_IRQ_INDEX).count() > 0;
            if (cap < 0 && msiAt < 0 && !intx) {
                throw new VfioException(VfioException.Reason.UNSUPPORTED, dev.bdf() + " has no usable interrupt: no "
                        + "MSI-X or MSI capability, and no INTx (interrupt pin " + pin + ", VFIO INTx count "
                        + dev.irq(VfioConstants.VFIO_PCI_INTX_IRQ_INDEX).count() + ")");
            }
            if (cap >= 0) {
                int n = (dev.readConfig(cap + MsixCapability.MESSAGE_CONTROL, 2) & 0x7ff) + 1;
                int table = dev.readConfig(cap + MsixCapability.TABLE_OFFSET, 4);
                int pba = dev.readConfig(cap + MsixCapability.PBA_OFFSET, 4);
                msixBar = table & 7;
                if (msixBar > 5) {
                    throw new VfioException(VfioException.Reason.UNSUPPORTED, dev.bdf() + ": the MSI-X table is in BAR"
                            + msixBar + " (BIR " + msixBar + " names no BAR)");
                }
                if ((pba & 7) != msixBar) {
                    throw new VfioException(VfioException.Reason.UNSUPPORTED, dev.bdf() + ": the MSI-X table (BAR"
                            + msixBar + ") and PBA (BAR" + (pba & 7) + ") are in different BARs");
                }
                msix = MsixTable.deviceSignalled(name, n); // the device signals the irqfds itself: masks hold them
                for (int v = 0; v < n; v++) {
                    MsiInterrupt m = irqs.allocateMsi(name + "-msix" + v);
                    vectors.add(m);
                    msix.bind(v, m);
                }
                msixCap = MsixCapability.install(this, msix, msixBar, table & ~7L, pba & ~7L);
            } else {
                msix = null;
                msixCap = null;
                msixBar = -1;
            }
            if (msiAt >= 0) {
                int mmc = (dev.readConfig(msiAt + MsiCapability.CONTROL, 2) >>> 1) & 7;
                int count = Math.min(1 << Math.min(mmc, 5), Math.max(1, dev.irq(VfioConstants.VFIO_PCI_MSI_IRQ_INDEX).count()));
                msiCap = MsiCapability.install(this, Integer.numberOfTrailingZeros(Integer.highestOneBit(count)));
                for (int v = 0; v < msiCap.capableVectors(); v++) {
                    msiVectors.add(irqs.allocateMsi(name + "-msi" + v));
                }
            } else {
                msiCap = null;
            }
            if (!msixOn) {
                hiddenCaps.add("MSI-X (msix=off)");
            }
            java.util.Set<Integer> seen = new java.util.HashSet<>();
            for (PassedCapabilities.Cap c : caps) {
                // the first of each ID only: a list that loops or repeats a capability shows it once
                String shown = !seen.add(c.id()) ? null : switch (c.id()) {
                    case PassedCapabilities.CAP_EXP -> passedCaps.passExpress(this, c.offset());
                    case PassedCapabilities.CAP_PM -> passedCaps.passPowerManagement(this, c.offset());
                    case MsiCapability.CAP_ID, MsixCapability.CAP_ID -> "";
                    default -> null;
                };
                if (shown == null) {
                    hiddenCaps.add(String.format("0x%02x@0x%02x", c.id(), c.offset()));
                } else if (!shown.isEmpty()) {
                    shownCaps.add(shown);
                }
            }
            declareRom();
            if (intx) {
                int gsi = intxGsi.applyAsInt(pin - 1);
                setInterrupt(pin, gsi);
                intxTrigger = EventFd.create(name + "-intx");
                intxResample = EventFd.create(name + "-intx-resample");
                intxIrqfd = irqs.levelIrqfd(intxTrigger, gsi, intxResample);
            }
            mapBars();
            super.setBarListener((f, b, o, nw) -> barMoved(b, o, nw));
            syncInterrupts(); // INTx is live from the start, as on a freshly reset function
            log.info("{}: {} {} {}{}; interrupts: {}; capabilities: {}{}", name, dev.bdf(),
                    String.format("%04x:%04x", dev.readConfig(0, 2), dev.readConfig(2, 2)), describeBars(),
                    romSize == 0 ? "" : String.format(", ROM 0x%x (read-only, trapped)", romSize), describeInterrupts(),
                    String.join(", ", shownCaps), hiddenCaps.isEmpty() ? "" : "; hidden: " + String.join(" ", hiddenCaps));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The VFIO device this function passes through. */
    public VfioDeviceIo device() {
        return dev;
    }

    /** The emulated MSI-X table, or null when the device has no MSI-X. */
    public MsixTable msix() {
        return msix;
    }

    private String describeInterrupts() {
        List<String> l = new ArrayList<>();
        if (msix != null) {
            l.add(msix.vectors() + " MSI-X (table in BAR" + msixBar + ")");
        }
        if (msiCap != null) {
            l.add(msiCap.capableVectors() + " MSI (per-vector mask)");
        }
        if (intxIrqfd != null) {
            l.add("INTx pin " + (char) ('A' + config().get(PciConfigSpace.INTERRUPT_PIN, 1) - 1) + " on GSI "
                    + config().get(PciConfigSpace.INTERRUPT_LINE, 1) + " (irqfd + resamplefd)");
        }
        return String.join(", ", l);
    }

    /** One emulated BAR per BAR region the device has, with the kind and prefetchable bit of the device's BAR. */
    private void declareBars() {
        for (int i = 0; i < 6; i++) {
            VfioRegionInfo r = dev.region(VfioConstants.VFIO_PCI_BAR0_REGION_INDEX + i);
            if (!r.exists()) {
                continue;
            }
            int raw = dev.readConfig(PciConfigSpace.BAR0 + 4 * i, 4);
            boolean io = (raw & 1) != 0;
            PciBar.Kind kind = io ? PciBar.Kind.IO : ((raw >>> 1) & 3) == 2 ? PciBar.Kind.MEM64 : PciBar.Kind.MEM32;
            long size = Math.max(r.size(), io ? 4 : 16);
            if (Long.bitCount(size) != 1 || kind != PciBar.Kind.MEM64 && size > 0x8000_0000L || kind == PciBar.Kind.MEM64 && i == 5) {
                throw new VfioException(VfioException.Reason.UNSUPPORTED, String.format("%s: BAR%d (register 0x%08x, "
                        + "%s) of 0x%x bytes cannot be emulated: %s", dev.bdf(), i, raw, kind, r.size(),
                        kind == PciBar.Kind.MEM64 && i == 5 ? "a 64-bit BAR needs the register after BAR5"
                                : "the size must be a power of two, at most 2 GiB unless 64-bit"));
            }
            // an I/O BAR has no prefetchable bit (bit 3 is part of its address)
            addBar(new PciBar(i, kind, size, !io && (raw & 8) != 0));
            if (kind == PciBar.Kind.MEM64) {
                i++;
            }
        }
    }

    /**
     * The expansion ROM, when vfio-pci offers one: a ROM BAR the guest sizes and places, decoded (enable bit and
     * memory space on) as a trapped, read-only MMIO range whose reads come from the device's ROM region.
     */
    private void declareRom() {
        VfioRegionInfo r = dev.region(VfioConstants.VFIO_PCI_ROM_REGION_INDEX);
        if (!r.exists() || !r.readable() || Long.bitCount(r.size()) != 1 || r.size() > (1L << 31)) {
            return;
        }
        romSize = Math.max(r.size(), 2048);
        config().set(ROM_BAR, 4, 0);
        config().setWritable(ROM_BAR, 4, (int) ~(romSize - 1) & 0xfffff800 | ROM_ENABLE);
    }

    /** The expansion ROM's size, 0 when the device has none. */
    public long romSize() {
        return romSize;
    }

    /** Places the expansion ROM (as firmware would; the guest enables it when it reads the ROM). */
    public synchronized void setRomAddress(long address) {
        if (romSize == 0 || (address & (romSize - 1)) != 0 || address >>> 32 != 0) {
            throw new IllegalArgumentException(String.format("%s: ROM address 0x%x (ROM size 0x%x)", name(), address,
                    romSize));
        }
        config().set(ROM_BAR, 4, (int) address | (config().get(ROM_BAR, 4) & ROM_ENABLE));
        syncRom();
    }

    /**
     * Registers the ROM where the guest decodes it now, or nowhere; where it overlaps another range it is not
     * registered (logged), and what the old place kept out is placed again.
     */
    private synchronized void syncRom() {
        if (romSize == 0 || closed) {
            return;
        }
        int bar = config().get(ROM_BAR, 4);
        long addr = bar & 0xfffff800L;
        boolean on = (bar & ROM_ENABLE) != 0 && (config().get(PciConfigSpace.COMMAND, 2) & PciConfigSpace.COMMAND_MEMORY) != 0
                && addr != 0 && addr != (~(romSize - 1) & 0xfffff800L);
        long now = on ? addr : -1;
        if (now == romWanted) {
            return;
        }
        if (romDecoded >= 0) {
            mmio.unregister(romDecoded);
            romDecoded = -1;
        }
        romWanted = now;
        for (PciBar b : bars()) {
            place(b, false);
        }
        placeRom(true);
    }

    /** Registers the ROM where the guest wants it, unless it is there or that overlaps another range. */
    private void placeRom(boolean loud) {
        if (romWanted < 0 || romDecoded >= 0) {
            return;
        }
        try {
            mmio.register(romWanted, romSize, new Rom(), name() + "-rom");
            romDecoded = romWanted;
            if (!loud) {
                log.info("{}: ROM reachable now at 0x{}: what it overlapped has moved", name(), Long.toHexString(romWanted));
            }
        } catch (VmCoreException e) {
            if (loud) {
                log.warn("{}: ROM placed at 0x{} is not reachable there: {}", name(), Long.toHexString(romWanted),
                        e.getMessage());
            }
        }
    }

    /** The expansion ROM as the guest reads it: the device's ROM region; writes are dropped. */
    private final class Rom implements BusDevice {
        private final long regionSize = dev.region(VfioConstants.VFIO_PCI_ROM_REGION_INDEX).size();

        @Override
        public long read(long offset, int size) {
            if (offset + size > regionSize) {
                return size == 8 ? -1L : (1L << (8 * size)) - 1; // past the image, in the BAR's rounding
            }
            try {
                return dev.read(VfioConstants.VFIO_PCI_ROM_REGION_INDEX, offset, size);
            } catch (VfioException e) {
                log.warn("{}: ROM read at 0x{}: {}", name(), Long.toHexString(offset), e.getMessage());
                return size == 8 ? -1L : (1L << (8 * size)) - 1;
            }
        }

        @Override
        public void write(long offset, int size, long value) {
            log.debug("{}: write to the read-only ROM at 0x{} dropped", name(), Long.toHexString(offset));
        }
    }

    /** mmaps what can be mapped and cuts each BAR into direct and trapped pieces (slot numbers assigned here). */
    private void mapBars() {
        for (int i = 0; i < 6; i++) {
            pieces.add(List.of());
            maps.add(new ArrayList<>());
            placedAt.add(new long[0]);
            placedSlots.add(new MemorySlot[0]);
        }
        int slot = firstSlot;
        for (PciBar b : bars()) {
            int i = b.index();
            VfioRegionInfo r = dev.region(i);
            List<long[]> traps = i == msixBar
                    ? List.of(pages(msixCap.tableOffset(), msix.tableSize()), pages(msixCap.pbaOffset(), msix.pbaSize()))
                    : List.of();
            // a BAR smaller than a page, or one the kernel will not let us map, is trapped whole
            List<VfioRegionInfo.Area> areas = b.isMemory() && r.size() >= PAGE && r.size() == b.size()
                    ? r.mappableAreas() : List.of();
            List<Piece> l = layout(b.size(), areas, traps, slot, firstSlot + SLOTS);
            List<Piece> done = new ArrayList<>();
            for (Piece p : l) {
                if (!p.direct()) {
                    maps.get(i).add(null);
                    done.add(p);
                    continue;
                }
                try {
                    maps.get(i).add(dev.mmapRegion(i, p.offset(), p.length()));
                    done.add(p);
                    slot = p.slot() + 1;
                } catch (VfioException e) {
                    log.info("{}: BAR{} 0x{}+0x{} cannot be mmap'd ({}); trapping it", name(), i,
                            Long.toHexString(p.offset()), Long.toHexString(p.length()), e.getMessage());
                    maps.get(i).add(null);
                    done.add(new Piece(p.offset(), p.length(), false, -1));
                }
            }
            pieces.set(i, List.copyOf(done));
            long[] at = new long[done.size()];
            java.util.Arrays.fill(at, -1);
            placedAt.set(i, at);
            placedSlots.set(i, new MemorySlot[done.size()]);
        }
    }

    /**
     * Cuts a BAR of {@code size} bytes into pieces: the page-aligned parts of the mmap-able {@code areas} that hold
     * no trapped page ({@code traps}: [start, end) page ranges of the MSI-X table and PBA) are direct pieces
     * numbered with KVM slots from {@code slot} (below {@code slotLimit}; what finds no slot is trapped), the rest
     * trapped pieces, neighbouring trapped parts merged. Pieces cover the BAR in offset order.
     */
    static List<Piece> layout(long size, List<VfioRegionInfo.Area> areas, List<long[]> traps, int slot, int slotLimit) {
        List<long[]> direct = new ArrayList<>();
        for (VfioRegionInfo.Area a : areas) {
            long from = (a.offset() + PAGE - 1) & -PAGE;
            long to = Math.min((a.offset() + a.size()) & -PAGE, size);
            List<long[]> parts = new ArrayList<>();
            if (to > from) {
                parts.add(new long[] {from, to});
            }
            for (long[] t : traps) {
                List<long[]> next = new ArrayList<>();
                for (long[] p : parts) {
                    if (t[1] <= p[0] || t[0] >= p[1]) {
                        next.add(p);
                        continue;
                    }
                    if (t[0] > p[0]) {
                        next.add(new long[] {p[0], t[0]});
                    }
                    if (t[1] < p[1]) {
                        next.add(new long[] {t[1], p[1]});
                    }
                }
                parts = next;
            }
            direct.addAll(parts);
        }
        direct.sort((x, y) -> Long.compare(x[0], y[0]));
        List<Piece> l = new ArrayList<>();
        long at = 0;
        for (long[] d : direct) {
            if (d[0] < at) {
                continue; // overlapping areas: the first one wins
            }
            if (d[0] > at) {
                addTrap(l, at, d[0]);
            }
            Piece last = l.isEmpty() ? null : l.get(l.size() - 1);
            if (last != null && last.direct() && last.offset() + last.length() == d[0]) {
                l.set(l.size() - 1, new Piece(last.offset(), d[1] - last.offset(), true, last.slot()));
            } else if (slot < slotLimit) {
                l.add(new Piece(d[0], d[1] - d[0], true, slot++));
            } else {
                addTrap(l, d[0], d[1]);
            }
            at = d[1];
        }
        if (at < size) {
            addTrap(l, at, size);
        }
        return List.copyOf(l);
    }

    private static void addTrap(List<Piece> l, long from, long to) {
        Piece last = l.isEmpty() ? null : l.get(l.size() - 1);
        if (last != null && !last.direct() && last.offset() + last.length() == from) {
            l.set(l.size() - 1, new Piece(last.offset(), to - last.offset(), false, -1));
        } else {
            l.add(new Piece(from, to - from, false, -1));
        }
    }

    /** {@link #layout} of a BAR mappable whole, with the MSI-X table and PBA at the given places (tests). */
    static List<Piece> split(long size, long tableOff, long tableLen, long pbaOff, long pbaLen, int slot) {
        return layout(size, List.of(new VfioRegionInfo.Area(0, size)),
                List.of(pages(tableOff, tableLen), pages(pbaOff, pbaLen)), slot, Integer.MAX_VALUE);
    }

    /** [start, end) of the pages covering {@code len} bytes at {@code off}. */
    private static long[] pages(long off, long len) {
        return new long[] {off & -PAGE, (off + len + PAGE - 1) & -PAGE};
    }

    private String describeBars() {
        StringBuilder s = new StringBuilder();
        for (PciBar b : bars()) {
            s.append(s.length() == 0 ? "" : ", ").append("BAR").append(b.index()).append(' ').append(b.kind())
                    .append(" 0x").append(Long.toHexString(b.size()));
            for (Piece p : pieces.get(b.index())) {
                s.append(String.format(" [0x%x+0x%x %s]", p.offset(), p.length(), p.direct() ? "mapped" : "trapped"));
            }
        }
        return s.toString();
    }

    /** Each BAR's pieces (for tests and diagnostics). */
    public List<Piece> pieces(int bar) {
        return pieces.get(bar);
    }

    /**
     * BAR relocation: the memory slots and MMIO (or port) traps follow the guest (-1: not decoded). What is registered
     * at the old place is removed; what the old place kept out of other BARs and the ROM is placed again; then the
     * BAR is placed at the new one, each piece that overlaps another range left out (one warning). Never throws at
     * the guest's config write.
     */
    private synchronized void barMoved(PciBar b, long oldAddress, long newAddress) {
        if (closed) {
            return;
        }
        unplace(b);
        // a command write moves several BARs one after another: a BAR whose space it turns off is not placed again
        int cmd = config().get(PciConfigSpace.COMMAND, 2);
        for (PciBar o : bars()) {
            if (o.index() != b.index() && (cmd & (o.isMemory() ? PciConfigSpace.COMMAND_MEMORY : PciConfigSpace.COMMAND_IO)) != 0) {
                place(o, false);
            }
        }
        if ((cmd & PciConfigSpace.COMMAND_MEMORY) != 0) {
            placeRom(false);
        }
        place(b, true);
        log.debug("{}: BAR{} 0x{} -> 0x{}", name(), b.index(), Long.toHexString(oldAddress), Long.toHexString(newAddress));
    }

    /** Removes each registered piece of BAR {@code b}. */
    private void unplace(PciBar b) {
        int i = b.index();
        long[] at = placedAt.get(i);
        MemorySlot[] slot = placedSlots.get(i);
        for (int k = 0; k < at.length; k++) {
            if (at[k] < 0) {
                continue;
            }
            try {
                if (slot[k] != null) {
                    slot[k].close();
                } else {
                    (b.isMemory() ? mmio : pio).unregister(at[k]);
                }
            } catch (ErrnoException e) {
                log.warn("{}: BAR{} 0x{}: removing its memory slot {} failed: {}", name(), i,
                        Long.toHexString(at[k]), slot[k].slot(), e.getMessage());
            }
            slot[k] = null;
            at[k] = -1;
        }
    }

    /**
     * Registers each piece of BAR {@code b} that is not registered yet where the BAR is decoded now; a piece KVM
     * (EEXIST) or the bus (an overlap) refuses there is left out, with one warning per call when {@code loud}.
     */
    private void place(PciBar b, boolean loud) {
        int i = b.index();
        long base = decodedAddress(i);
        if (base < 0) {
            return;
        }
        List<Piece> ps = pieces.get(i);
        long[] at = placedAt.get(i);
        MemorySlot[] slot = placedSlots.get(i);
        List<String> refused = new ArrayList<>();
        List<String> placed = new ArrayList<>();
        for (int k = 0; k < ps.size(); k++) {
            if (at[k] >= 0) {
                continue;
            }
            Piece p = ps.get(k);
            long a = base + p.offset();
            try {
                if (p.direct()) {
                    slot[k] = MemorySlot.register(slots, p.slot(), 0, a, p.length(), maps.get(i).get(k).address());
                } else {
                    (b.isMemory() ? mmio : pio).register(a, p.length(), new TrappedBar(i, p.offset()),
                            name() + "-bar" + i + (p.offset() == 0 ? "" : "+" + Long.toHexString(p.offset())));
                }
                at[k] = a;
                placed.add(String.format("0x%x+0x%x", a, p.length()));
            } catch (VmCoreException | ErrnoException e) {
                refused.add(String.format("0x%x+0x%x (%s)", a, p.length(), e.getMessage()));
            }
        }
        if (!refused.isEmpty() && loud) {
            log.warn("{}: BAR{} placed at 0x{} overlaps another range; not reachable there: {}", name(), i,
                    Long.toHexString(base), String.join(", ", refused));
        } else if (!placed.isEmpty() && !loud) {
            log.info("{}: BAR{} (at 0x{}) reachable now at {}: what it overlapped has moved", name(), i,
                    Long.toHexString(base), String.join(", ", placed));
        }
    }

    /** A BAR served by the VMM: MSI-X table and PBA emulated, the rest forwarded to the device. */
    private final class TrappedBar implements BusDevice {
        private final int index;
        private final long base;

        TrappedBar(int index, long base) {
            this.index = index;
            this.base = base;
        }

        @Override
        public long read(long pieceOffset, int size) {
            long offset = base + pieceOffset;
            if (index == msixBar && msixCap.claims(offset)) {
                return msixCap.read(offset, size);
            }
            try {
                return dev.read(index, offset, size);
            } catch (VfioException e) {
                log.warn("{}: BAR{} read at 0x{}: {}", name(), index, Long.toHexString(offset), e.getMessage());
                return size == 8 ? -1L : (1L << (8 * size)) - 1;
            }
        }

        @Override
        public void write(long pieceOffset, int size, long value) {
            long offset = base + pieceOffset;
            if (index == msixBar && msixCap.claims(offset)) {
                msixCap.write(offset, size, value);
                return;
            }
            try {
                dev.write(index, offset, size, value);
            } catch (VfioException e) {
                log.warn("{}: BAR{} write at 0x{}: {}", name(), index, Long.toHexString(offset), e.getMessage());
            }
        }
    }

    @Override
    public int configRead(int offset, int size) {
        int v = super.configRead(offset, size);
        if (offset < 0x40 || !config().validAccess(offset, size)) {
            return v;
        }
        try {
            Integer passed = passedCaps.read(offset, size, v);
            return passed != null ? passed : v;
        } catch (VfioException e) {
            log.warn("{}: config read at 0x{}: {}", name(), Integer.toHexString(offset), e.getMessage());
            return v;
        }
    }

    /**
     * What a guest config write does to the device (passed capability bytes, the command register, the interrupt kind
     * handed to VFIO); a device that refuses is logged, never thrown at the guest's access.
     */
    @Override
    protected void onConfigWrite(int offset, int size, int value) {
        try {
            configWritten(offset, size, value);
        } catch (VfioException e) {
            log.warn("{}: config write of 0x{} at 0x{}: {}", name(), Integer.toHexString(value),
                    Integer.toHexString(offset), e.getMessage());
        }
    }

    private void configWritten(int offset, int size, int value) {
        if (offset >= 0x40 && config().validAccess(offset, size) && passedCaps.write(offset, size, value)) {
            return;
        }
        if (offset < ROM_BAR + 4 && offset + size > ROM_BAR || offset < PciConfigSpace.COMMAND + 2
                && offset + size > PciConfigSpace.COMMAND) {
            syncRom();
        }
        if (offset < PciConfigSpace.COMMAND + 2 && offset + size > PciConfigSpace.COMMAND) {
            int cmd = config().get(PciConfigSpace.COMMAND, 2) & CMD_PASSED;
            int hw = dev.readConfig(PciConfigSpace.COMMAND, 2);
            dev.writeConfig(PciConfigSpace.COMMAND, 2, (hw & ~CMD_PASSED) | cmd);
        }
        if (msixCap != null) {
            msixCap.configWritten(offset, size);
        }
        syncInterrupts();
    }

    /**
     * Hands VFIO the interrupt kind the guest has on: MSI-X when enabled, else MSI when enabled, else INTx. vfio-pci
     * takes one kind at a time, so the old one is turned off first. With MSI on, each enabled vector is routed to the
     * message the guest programmed ({@code data | vector}) and held while its mask bit is set.
     */
    private synchronized void syncInterrupts() {
        if (closed) {
            return;
        }
        Mode want = msix != null && msix.enabled() ? Mode.MSIX
                : msiCap != null && msiCap.enabled() ? Mode.MSI
                : intxIrqfd != null ? Mode.INTX : Mode.NONE;
        if (want == Mode.MSI && onDevice == Mode.MSI && msiCap.vectors() != msiOnDevice) {
            turnOff(Mode.MSI); // the guest changed Multiple Message Enable while enabled: start over
        }
        if (want != onDevice) {
            turnOff(onDevice);
            turnOn(want);
            log.debug("{}: interrupts now {}", name(), want);
        }
        if (onDevice == Mode.MSI) {
            int pending = 0;
            for (int v = 0; v < msiOnDevice; v++) {
                MsiInterrupt m = msiVectors.get(v);
                long a = msiCap.address();
                int d = msiCap.data(v);
                if (a != msiRoutedAddress[v] || d != msiRoutedData[v]) {
                    m.route(a, d);
                    msiRoutedAddress[v] = a;
                    msiRoutedData[v] = d;
                }
                m.hold(msiCap.masked(v));
                if (msiCap.masked(v) && m.heldSignal()) {
                    pending |= 1 << v;
                }
            }
            msiCap.setPending(pending);
        }
    }

    private void turnOn(Mode m) {
        switch (m) {
            case MSIX -> {
                int[] fds = new int[vectors.size()];
                for (int v = 0; v < fds.length; v++) {
                    fds[v] = vectors.get(v).eventFd().fd();
                }
                dev.setIrqEventfds(VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX, 0, fds);
            }
            case MSI -> {
                int n = msiCap.vectors();
                int[] fds = new int[n];
                for (int v = 0; v < n; v++) {
                    msiRoutedAddress[v] = -1;
                    fds[v] = msiVectors.get(v).eventFd().fd();
                }
                msiOnDevice = n;
                dev.setIrqEventfds(VfioConstants.VFIO_PCI_MSI_IRQ_INDEX, 0, fds);
            }
            case INTX -> {
                dev.setIrqEventfds(VfioConstants.VFIO_PCI_INTX_IRQ_INDEX, 0, intxTrigger.fd());
                // the guest's EOI (KVM's resamplefd) unmasks the host line, which VFIO masked when it fired
                dev.setIrqUnmaskEventfd(VfioConstants.VFIO_PCI_INTX_IRQ_INDEX, 0, intxResample.fd());
            }
            case NONE -> { }
        }
        onDevice = m;
    }

    private void turnOff(Mode m) {
        switch (m) {
            case MSIX -> dev.disableIrqs(VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX);
            case MSI -> {
                dev.disableIrqs(VfioConstants.VFIO_PCI_MSI_IRQ_INDEX);
                for (int v = 0; v < msiOnDevice; v++) {
                    msiVectors.get(v).hold(false);
                    msiVectors.get(v).unroute();
                }
                msiOnDevice = 0;
            }
            case INTX -> dev.disableIrqs(VfioConstants.VFIO_PCI_INTX_IRQ_INDEX);
            case NONE -> { }
        }
        onDevice = Mode.NONE;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // KVM must stop using the BAR mappings before they are unmapped; VFIO must stop signalling before the
        // irqfds go away.
        for (PciBar b : bars()) {
            if (b.index() < placedAt.size()) {
                unplace(b);
            }
        }
        if (romDecoded >= 0) {
            mmio.unregister(romDecoded);
            romDecoded = -1;
        }
        romWanted = -1;
        try {
            turnOff(onDevice);
        } catch (RuntimeException e) {
            log.warn("{}: {}", name(), e.getMessage());
        }
        closeQuietly(intxIrqfd);
        closeQuietly(intxTrigger);
        closeQuietly(intxResample);
        for (List<Mmap> l : maps) {
            for (Mmap m : l) {
                if (m != null) {
                    m.close();
                }
            }
        }
        for (MsiInterrupt m : vectors) {
            m.close();
        }
        for (MsiInterrupt m : msiVectors) {
            m.close();
        }
        dev.close();
    }

    private void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            log.warn("{}: {}", name(), e.toString());
        }
    }
}

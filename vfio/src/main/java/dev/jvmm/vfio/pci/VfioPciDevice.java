package dev.jvmm.vfio.pci;

import dev.jvmm.core.Bus;
import dev.jvmm.core.BusDevice;
import dev.jvmm.core.MemorySlot;
import dev.jvmm.core.MemorySlotSink;
import dev.jvmm.core.irq.InterruptController;
import dev.jvmm.core.irq.MsiInterrupt;
import dev.jvmm.core.pci.MsixCapability;
import dev.jvmm.core.pci.MsixTable;
import dev.jvmm.core.pci.PciBar;
import dev.jvmm.core.pci.PciConfigSpace;
import dev.jvmm.core.pci.PciFunction;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.vfio.uapi.VfioConstants;
import dev.jvmm.vfio.VfioDevice;
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
 * command register's memory, bus-master and INTx-disable bits are also written to the device, and the only
 * capability the guest sees is an emulated MSI-X capability with the device's own table size and table/PBA
 * location. The guest's MSI-X table is emulated ({@link MsixTable}); each vector is an irq-routing MSI route plus
 * irqfd, and when the guest enables MSI-X, {@code VFIO_DEVICE_SET_IRQS} hands the <em>irqfds' eventfds</em> to
 * VFIO, so the device's interrupts go from the host's interrupt handler straight into KVM, never through Java.
 *
 * <p>BARs: a BAR the kernel lets us mmap and that does not hold the MSI-X table is mmap'd once and mapped into the
 * guest as a KVM memory slot at the address the guest programs (the slot is moved when the guest moves the BAR).
 * The BAR holding the MSI-X table or PBA, and BARs that cannot be mmap'd, are trapped on the MMIO bus: table and PBA
 * accesses go to the emulation, everything else to the device with pread/pwrite.
 *
 * <p>Owns its mmaps, slots, MSI vectors and bus registrations; {@link #close()} (idempotent) releases them, disables
 * MSI-X on the device and closes the VFIO device. The caller keeps the container (and its DMA mappings) open
 * until after this is closed.
 */
public final class VfioPciDevice extends PciFunction implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VfioPciDevice.class);
    private static final int PAGE = 4096;
    private static final int CMD_PASSED = PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER
            | PciConfigSpace.COMMAND_INTX_DISABLE;

    private final VfioDevice dev;
    private final Bus mmio;
    private final MemorySlotSink slots;
    private final int firstSlot;
    private final MsixTable msix;
    private final MsixCapability msixCap;
    private final int msixBar;
    private final List<MsiInterrupt> vectors = new ArrayList<>();
    private final Mmap[] maps = new Mmap[6];
    private final MemorySlot[] barSlots = new MemorySlot[6];
    private final long[] trapped = {-1, -1, -1, -1, -1, -1};
    private boolean msixOnDevice;
    private boolean closed;

    /**
     * @param dev       the opened VFIO device (owned from now on: closed with this object, also on failure)
     * @param irqs      MSI vectors (irq-routing's router)
     * @param mmio      where trapped BARs are registered
     * @param slots     where BAR memory slots go ({@code VmFd::setUserMemoryRegion})
     * @param firstSlot the first of 6 KVM slot numbers reserved for this device's BARs
     */
    public VfioPciDevice(String name, VfioDevice dev, InterruptController irqs, Bus mmio, MemorySlotSink slots,
            int firstSlot) {
        super(name, dev.readConfig(PciConfigSpace.VENDOR_ID, 2), dev.readConfig(PciConfigSpace.DEVICE_ID, 2),
                dev.readConfig(PciConfigSpace.REVISION_ID, 4) >>> 8, dev.readConfig(PciConfigSpace.REVISION_ID, 1), false);
        this.dev = dev;
        this.mmio = mmio;
        this.slots = slots;
        this.firstSlot = firstSlot;
        try {
            if (!dev.info().isPci()) {
                throw new VfioException(VfioException.Reason.UNSUPPORTED, dev.bdf() + " is not a vfio-pci device");
            }
            if (dev.info().canReset()) {
                dev.reset(); // start from a clean function, whatever the previous user left (FLR)
            }
            setSubsystem(dev.readConfig(PciConfigSpace.SUBSYSTEM_VENDOR_ID, 2), dev.readConfig(PciConfigSpace.SUBSYSTEM_ID, 2));
            declareBars();
            int cap = findCapability(MsixCapability.CAP_ID);
            if (cap < 0) {
                throw new VfioException(VfioException.Reason.UNSUPPORTED, dev.bdf() + " has no MSI-X capability; "
                        + "jvmm passes through MSI-X devices only (no MSI, no INTx yet)");
            }
            int n = (dev.readConfig(cap + MsixCapability.MESSAGE_CONTROL, 2) & 0x7ff) + 1;
            int table = dev.readConfig(cap + MsixCapability.TABLE_OFFSET, 4);
            int pba = dev.readConfig(cap + MsixCapability.PBA_OFFSET, 4);
            msixBar = table & 7;
            if ((pba & 7) != msixBar) {
                throw new VfioException(VfioException.Reason.UNSUPPORTED, dev.bdf() + ": the MSI-X table (BAR"
                        + msixBar + ") and PBA (BAR" + (pba & 7) + ") are in different BARs");
            }
            msix = new MsixTable(name, n);
            for (int v = 0; v < n; v++) {
                MsiInterrupt m = irqs.allocateMsi(name + "-msix" + v);
                vectors.add(m);
                msix.bind(v, m);
            }
            msixCap = MsixCapability.install(this, msix, msixBar, table & ~7L, pba & ~7L);
            mapBars();
            super.setBarListener((f, b, o, nw) -> barMoved(b, o, nw));
            log.info("{}: {} {} {}, {} MSI-X vectors (table in BAR{})", name, dev.bdf(),
                    String.format("%04x:%04x", dev.readConfig(0, 2), dev.readConfig(2, 2)), describeBars(), n, msixBar);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    public VfioDevice device() {
        return dev;
    }

    public MsixTable msix() {
        return msix;
    }

    /** The capability with {@code id} in the device's own list, or -1. */
    private int findCapability(int id) {
        if ((dev.readConfig(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAP_LIST) == 0) {
            return -1;
        }
        int p = dev.readConfig(PciConfigSpace.CAPABILITIES_POINTER, 1) & 0xfc;
        for (int i = 0; p >= 0x40 && i < 48; i++) {
            if (dev.readConfig(p, 1) == id) {
                return p;
            }
            p = dev.readConfig(p + 1, 1) & 0xfc;
        }
        return -1;
    }

    /** One emulated BAR per BAR region the device has, with the kind and prefetchable bit of the device's BAR. */
    private void declareBars() {
        for (int i = 0; i < 6; i++) {
            VfioRegionInfo r = dev.region(VfioConstants.VFIO_PCI_BAR0_REGION_INDEX + i);
            if (!r.exists()) {
                continue;
            }
            int raw = dev.readConfig(PciConfigSpace.BAR0 + 4 * i, 4);
            PciBar.Kind kind = (raw & 1) != 0 ? PciBar.Kind.IO : ((raw >>> 1) & 3) == 2 ? PciBar.Kind.MEM64 : PciBar.Kind.MEM32;
            addBar(new PciBar(i, kind, Math.max(r.size(), kind == PciBar.Kind.IO ? 4 : 16), (raw & 8) != 0));
            if (kind == PciBar.Kind.MEM64) {
                i++;
            }
        }
    }

    private boolean direct(PciBar b) {
        VfioRegionInfo r = dev.region(b.index());
        return b.isMemory() && b.index() != msixBar && r.mappable() && r.size() >= PAGE && (r.size() % PAGE) == 0;
    }

    private void mapBars() {
        for (PciBar b : bars()) {
            if (direct(b)) {
                maps[b.index()] = dev.mmapRegion(b.index());
            }
        }
    }

    private String describeBars() {
        StringBuilder s = new StringBuilder();
        for (PciBar b : bars()) {
            s.append(s.length() == 0 ? "" : ", ").append("BAR").append(b.index()).append(' ').append(b.kind())
                    .append(" 0x").append(Long.toHexString(b.size())).append(direct(b) ? " mapped" : " trapped");
        }
        return s.toString();
    }

    /** BAR relocation: the memory slot or the MMIO trap follows the guest (-1: not decoded). */
    private synchronized void barMoved(PciBar b, long oldAddress, long newAddress) {
        if (closed || !b.isMemory()) {
            return;
        }
        int i = b.index();
        if (maps[i] != null) {
            if (barSlots[i] != null) {
                barSlots[i].close();
                barSlots[i] = null;
            }
            if (newAddress >= 0) {
                barSlots[i] = MemorySlot.register(slots, firstSlot + i, 0, newAddress, maps[i].length(), maps[i].address());
            }
        } else {
            if (trapped[i] >= 0) {
                mmio.unregister(trapped[i]);
                trapped[i] = -1;
            }
            if (newAddress >= 0) {
                mmio.register(newAddress, b.size(), new TrappedBar(i), name() + "-bar" + i);
                trapped[i] = newAddress;
            }
        }
        log.debug("{}: BAR{} 0x{} -> 0x{}", name(), i, Long.toHexString(oldAddress), Long.toHexString(newAddress));
    }

    /** A BAR served by the VMM: MSI-X table and PBA emulated, the rest forwarded to the device. */
    private final class TrappedBar implements BusDevice {
        private final int index;

        TrappedBar(int index) {
            this.index = index;
        }

        @Override
        public long read(long offset, int size) {
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
        public void write(long offset, int size, long value) {
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
    protected void onConfigWrite(int offset, int size, int value) {
        if (offset < PciConfigSpace.COMMAND + 2 && offset + size > PciConfigSpace.COMMAND) {
            int cmd = config().get(PciConfigSpace.COMMAND, 2) & CMD_PASSED;
            int hw = dev.readConfig(PciConfigSpace.COMMAND, 2);
            dev.writeConfig(PciConfigSpace.COMMAND, 2, (hw & ~CMD_PASSED) | cmd);
        }
        msixCap.configWritten(offset, size);
        syncMsix();
    }

    /** Enables or disables MSI-X on the device when the guest flips MSI-X Enable. */
    private synchronized void syncMsix() {
        boolean want = msix.enabled();
        if (want == msixOnDevice || closed) {
            return;
        }
        if (want) {
            int[] fds = new int[vectors.size()];
            for (int v = 0; v < fds.length; v++) {
                fds[v] = vectors.get(v).eventFd().fd();
            }
            dev.setIrqEventfds(VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX, 0, fds);
        } else {
            dev.disableIrqs(VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX);
        }
        msixOnDevice = want;
        log.debug("{}: MSI-X {} on the device", name(), want ? "enabled" : "disabled");
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // KVM must stop using the BAR mappings before they are unmapped; VFIO must stop signalling before the
        // irqfds go away.
        for (int i = 0; i < 6; i++) {
            if (barSlots[i] != null) {
                barSlots[i].close();
            }
            if (trapped[i] >= 0) {
                mmio.unregister(trapped[i]);
            }
        }
        if (msixOnDevice) {
            try {
                dev.disableIrqs(VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX);
            } catch (RuntimeException e) {
                log.warn("{}: {}", name(), e.getMessage());
            }
        }
        for (Mmap m : maps) {
            if (m != null) {
                m.close();
            }
        }
        for (MsiInterrupt m : vectors) {
            m.close();
        }
        dev.close();
    }
}

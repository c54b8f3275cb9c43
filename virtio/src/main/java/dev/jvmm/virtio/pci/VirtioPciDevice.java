package dev.jvmm.virtio.pci;

import static dev.jvmm.virtio.VirtioConstants.*;
import static dev.jvmm.virtio.pci.VirtioPciLayout.Constants.*;

import dev.jvmm.core.BusDevice;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.irq.InterruptController;
import dev.jvmm.core.irq.MsiInterrupt;
import dev.jvmm.core.pci.BarListener;
import dev.jvmm.core.pci.MsixCapability;
import dev.jvmm.core.pci.MsixTable;
import dev.jvmm.core.pci.PciBar;
import dev.jvmm.core.pci.PciFunction;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.virtio.GuestProtocolException;
import dev.jvmm.virtio.VirtQueue;
import dev.jvmm.virtio.VirtioDevice;
import dev.jvmm.virtio.VirtioInterrupts;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The modern virtio-pci transport (virtio 1.2 §4.1) for one {@link VirtioDevice}: PCI IDs 0x1af4:0x1040+type,
 * one 64-bit memory BAR0 holding the common configuration, ISR, device configuration and notification
 * structures and the MSI-X table and PBA (each on its own 4 KiB page), described by vendor capabilities
 * (COMMON, NOTIFY, ISR, DEVICE, PCI_CFG) plus the MSI-X capability.
 *
 * <p>Doorbells: each queue has a kick eventfd; when the VMM gives an {@link IoeventfdSink}, every queue's notify
 * address is registered as an ioeventfd wherever the guest places BAR0 (and moved when it moves), so a kick
 * never reaches Java on the vCPU thread. A notify write that does reach {@link #bar0()} signals the same
 * eventfd. Interrupts: one MSI-X vector per queue plus one for configuration changes, each an irqfd
 * ({@link MsiInterrupt}); with MSI-X disabled, INTx through the {@link InterruptController} with the ISR.
 *
 * <p>Guest errors (bad queue configuration, a malformed chain found by the device) set NEEDS_RESET and raise
 * the configuration interrupt; a reset (status 0) recovers the device.
 */
public class VirtioPciDevice extends PciFunction implements VirtioInterrupts, Snapshottable, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VirtioPciDevice.class);
    public static final int VENDOR_ID = 0x1af4;
    public static final int DEVICE_ID_BASE = 0x1040;
    public static final long BAR_SIZE = 0x8000;
    public static final long COMMON_OFFSET = 0x0000;
    public static final long ISR_OFFSET = 0x1000;
    public static final long DEVICE_OFFSET = 0x2000;
    public static final long NOTIFY_OFFSET = 0x3000;
    public static final int NOTIFY_OFF_MULTIPLIER = 4;
    public static final long MSIX_TABLE_OFFSET = 0x4000;
    public static final long MSIX_PBA_OFFSET = 0x6000;
    private static final int PCI_CAP_ID_VNDR = 0x09;

    private final VirtioDevice device;
    private final GuestMemory memory;
    private final InterruptController irqs;
    private final IoeventfdSink ioeventfds;
    private final int intxGsi;
    private final VirtQueue[] queues;
    private final EventFd[] kicks;
    private final int[] queueVector;
    private final MsixTable msix;
    private final MsixCapability msixCap;
    private final List<MsiInterrupt> vectors = new ArrayList<>();
    private final List<AutoCloseable> registrations = new ArrayList<>();
    private final long offered;
    private final int pciCfgCap;
    private volatile BarListener external = (f, b, o, n) -> { };
    private final Object statusLock = new Object();
    private final AtomicLong guestErrors = new AtomicLong();

    private int deviceFeatureSelect, driverFeatureSelect;
    private long driverFeatures;
    private int configVector = VIRTIO_MSI_NO_VECTOR;
    private volatile int status;
    private int configGeneration;
    private int queueSelect;
    private volatile int isr;
    private boolean active;

    /**
     * @param irqs       allocates the MSI-X vectors and drives INTx; null for a transport without interrupts
     *                   (unit tests that poll)
     * @param ioeventfds registers the notify addresses; null to take every kick through {@link #bar0()}
     * @param intxGsi    the GSI of INTA# (-1: none)
     */
    public VirtioPciDevice(VirtioDevice device, GuestMemory memory, InterruptController irqs, IoeventfdSink ioeventfds,
            int intxGsi) {
        super(device.name(), VENDOR_ID, DEVICE_ID_BASE + device.deviceType(), device.pciClass(), 1, true);
        this.device = device;
        this.memory = memory;
        this.irqs = irqs;
        this.ioeventfds = ioeventfds;
        this.intxGsi = intxGsi;
        int n = device.queueCount();
        if (n < 1 || n > 256) {
            throw new IllegalArgumentException(device.name() + ": " + n + " queues (1..256 supported)");
        }
        setSubsystem(VENDOR_ID, 0x1100);
        if (intxGsi >= 0) {
            setInterrupt(1, intxGsi);
        }
        this.offered = device.deviceFeatures() | 1L << VIRTIO_F_VERSION_1 | 1L << VIRTIO_RING_F_INDIRECT_DESC
                | 1L << VIRTIO_RING_F_EVENT_IDX;
        queues = new VirtQueue[n];
        kicks = new EventFd[n];
        queueVector = new int[n];
        // a vector a vhost worker signals is held while masked (its signals wait in the irqfd as the pending bit)
        msix = device.signalsFromKernel() ? MsixTable.deviceSignalled(device.name(), n + 1) : new MsixTable(device.name(), n + 1);
        try {
            for (int q = 0; q < n; q++) {
                queues[q] = new VirtQueue(memory, q, device.queueMaxSize(), device.maxSegments(q));
                kicks[q] = EventFd.create(device.name() + "-kick" + q);
                queueVector[q] = VIRTIO_MSI_NO_VECTOR;
            }
            if (irqs != null) {
                for (int v = 0; v <= n; v++) {
                    MsiInterrupt m = irqs.allocateMsi(device.name() + (v < n ? "-q" + v : "-config"));
                    vectors.add(m);
                    msix.bind(v, m);
                }
            }
        } catch (RuntimeException e) {
            closeResources();
            throw e;
        }
        addBar(new PciBar(0, PciBar.Kind.MEM64, BAR_SIZE, false));
        addVirtioCap(VIRTIO_PCI_CAP_COMMON_CFG, COMMON_OFFSET, CommonCfg.SIZEOF, 0);
        addVirtioCap(VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFFSET, (long) NOTIFY_OFF_MULTIPLIER * n, 0);
        addVirtioCap(VIRTIO_PCI_CAP_ISR_CFG, ISR_OFFSET, 1, 0);
        if (device.configSize() > 0) {
            addVirtioCap(VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_OFFSET, device.configSize(), 0);
        }
        msixCap = MsixCapability.install(this, msix, 0, MSIX_TABLE_OFFSET, MSIX_PBA_OFFSET);
        pciCfgCap = addVirtioCap(VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
        super.setBarListener(this::barMoved);
    }

    /** Adds a vendor capability; PCI_CFG gets its writable bar/offset/length/data window. */
    private int addVirtioCap(int type, long offset, long length, int id) {
        boolean notify = type == VIRTIO_PCI_CAP_NOTIFY_CFG;
        boolean cfg = type == VIRTIO_PCI_CAP_PCI_CFG;
        byte[] body = new byte[notify || cfg ? 20 : 16];
        body[VirtioPciLayout.Cap.CAP_LEN] = (byte) body.length;
        body[VirtioPciLayout.Cap.CFG_TYPE] = (byte) type;
        body[VirtioPciLayout.Cap.BAR] = 0;
        body[VirtioPciLayout.Cap.ID] = (byte) id;
        putInt(body, VirtioPciLayout.Cap.OFFSET, (int) offset);
        putInt(body, VirtioPciLayout.Cap.LENGTH, (int) length);
        if (notify) {
            putInt(body, VirtioPciLayout.NotifyCap.NOTIFY_OFF_MULTIPLIER, NOTIFY_OFF_MULTIPLIER);
        }
        byte[] mask = null;
        if (cfg) {
            mask = new byte[20];
            mask[VirtioPciLayout.Cap.BAR] = (byte) 0xff;
            for (int i = 8; i < 20; i++) {
                mask[i] = (byte) 0xff;
            }
        }
        return config().addCapability(PCI_CAP_ID_VNDR, body, mask);
    }

    private static void putInt(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    public VirtioDevice device() {
        return device;
    }

    /** The device's queues (for their counters: {@link VirtQueue#completedChains()} and the byte counts). */
    public java.util.List<VirtQueue> queues() {
        return java.util.List.of(queues);
    }

    public MsixTable msix() {
        return msix;
    }

    /** Queue {@code q}'s kick eventfd (what an ioeventfd at its notify address signals). */
    public EventFd kick(int q) {
        return kicks[q];
    }

    /** The guest-physical notify address of queue {@code q}, or -1 while BAR0 is not decoded. */
    public long notifyAddress(int q) {
        long base = decodedAddress(0);
        return base < 0 ? -1 : base + NOTIFY_OFFSET + (long) NOTIFY_OFF_MULTIPLIER * q;
    }

    public int status() {
        return status;
    }

    /** The features the driver accepted (valid after FEATURES_OK). */
    public synchronized long driverFeatures() {
        return driverFeatures;
    }

    public long offeredFeatures() {
        return offered;
    }

    /** Guest protocol errors seen by this transport (bad queue setup, NEEDS_RESET from the device). */
    public long guestErrors() {
        return guestErrors.get();
    }

    @Override
    public void setBarListener(BarListener l) {
        this.external = l == null ? (f, b, o, n) -> { } : l;
    }

    private void barMoved(PciFunction f, PciBar bar, long oldAddress, long newAddress) {
        external.barMoved(f, bar, oldAddress, newAddress);
        if (bar.index() == 0) {
            registerIoeventfds(newAddress);
        }
    }

    /** Moves the queues' ioeventfds to BAR0's new place (none while it is not decoded). */
    private synchronized void registerIoeventfds(long base) {
        closeRegistrations();
        if (ioeventfds == null || base < 0) {
            return;
        }
        for (int q = 0; q < queues.length; q++) {
            long at = base + NOTIFY_OFFSET + (long) NOTIFY_OFF_MULTIPLIER * q;
            try {
                registrations.add(ioeventfds.register(kicks[q], at, 0));
            } catch (RuntimeException e) {
                // another device's doorbell is there: the guest put two BARs over each other; its kicks for this
                // queue then reach BAR0 (where it is decoded) instead, until the guest moves it
                log.warn("{}: queue {}'s doorbell at 0x{} cannot be an ioeventfd: {}", name(), q, Long.toHexString(at),
                        e.getMessage());
            }
        }
    }

    private void closeRegistrations() {
        for (int i = registrations.size() - 1; i >= 0; i--) {
            try {
                registrations.get(i).close();
            } catch (Exception e) {
                log.warn("{}: closing ioeventfd registration failed: {}", name(), e.toString());
            }
        }
        registrations.clear();
    }

    // ---- config space: MSI-X control and the PCI_CFG window ----

    @Override
    protected void onConfigWrite(int offset, int size, int value) {
        msixCap.configWritten(offset, size);
        int data = pciCfgCap + VirtioPciLayout.CfgCap.PCI_CFG_DATA;
        if (offset >= data && offset < data + 4) {
            int[] w = cfgWindow();
            if (w != null) {
                bar0Write(w[0], w[1], value & 0xffff_ffffL);
            }
        }
    }

    @Override
    public int configRead(int offset, int size) {
        int data = pciCfgCap + VirtioPciLayout.CfgCap.PCI_CFG_DATA;
        if (offset >= data && offset < data + 4) {
            int[] w = cfgWindow();
            if (w != null) {
                return (int) bar0Read(w[0], w[1]);
            }
        }
        return super.configRead(offset, size);
    }

    /** The PCI_CFG window's {offset, length} when it points into BAR0 with a valid size, else null. */
    private int[] cfgWindow() {
        int bar = config().get(pciCfgCap + VirtioPciLayout.Cap.BAR, 1);
        int off = config().get(pciCfgCap + VirtioPciLayout.Cap.OFFSET, 4);
        int len = config().get(pciCfgCap + VirtioPciLayout.Cap.LENGTH, 4);
        if (bar != 0 || (len != 1 && len != 2 && len != 4) || off < 0 || off + len > BAR_SIZE) {
            return null;
        }
        return new int[] {off, len};
    }

    // ---- BAR0 ----

    /** The BAR0 device to register on the MMIO bus at BAR0's decoded address. */
    public BusDevice bar0() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return bar0Read(offset, size);
            }

            @Override
            public void write(long offset, int size, long value) {
                bar0Write(offset, size, value);
            }
        };
    }

    long bar0Read(long offset, int size) {
        if (offset >= MSIX_TABLE_OFFSET) {
            return msixCap.claims(offset) ? msixCap.read(offset, size) : 0;
        }
        if (offset < COMMON_OFFSET + CommonCfg.SIZEOF) {
            return readCommon((int) offset, size);
        }
        if (offset == ISR_OFFSET && size == 1) {
            return readIsr();
        }
        if (offset >= DEVICE_OFFSET && offset + size <= DEVICE_OFFSET + device.configSize()) {
            return device.readConfig((int) (offset - DEVICE_OFFSET), size) & mask(size);
        }
        return 0;
    }

    void bar0Write(long offset, int size, long value) {
        if (offset >= MSIX_TABLE_OFFSET) {
            if (msixCap.claims(offset)) {
                msixCap.write(offset, size, value);
            }
            return;
        }
        if (offset >= NOTIFY_OFFSET && offset < NOTIFY_OFFSET + (long) NOTIFY_OFF_MULTIPLIER * queues.length) {
            kicks[(int) ((offset - NOTIFY_OFFSET) / NOTIFY_OFF_MULTIPLIER)].signal();
            return;
        }
        if (offset < COMMON_OFFSET + CommonCfg.SIZEOF) {
            writeCommon((int) offset, size, value);
            return;
        }
        if (offset >= DEVICE_OFFSET && offset + size <= DEVICE_OFFSET + device.configSize()) {
            device.writeConfig((int) (offset - DEVICE_OFFSET), size, (int) value);
            return;
        }
        guestError("write of " + size + " bytes at BAR0+0x" + Long.toHexString(offset) + " hits no register");
    }

    private static long mask(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    private int readIsr() {
        int v;
        synchronized (statusLock) {
            v = isr;
            isr = 0;
        }
        if (v != 0 && intxGsi >= 0 && irqs != null) {
            irqs.setIrqLine(intxGsi, false); // reading the ISR de-asserts INTx (§4.1.4.5)
        }
        return v;
    }

    // ---- common configuration (§4.1.4.3) ----

    private synchronized long readCommon(int offset, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | commonByte(offset + i);
        }
        return v;
    }

    private int commonByte(int o) {
        long reg;
        int base;
        VirtQueue q = queueSelect < queues.length ? queues[queueSelect] : null;
        if (o < 0x10) {
            base = o & ~3;
            reg = switch (base) {
                case CommonCfg.DEVICE_FEATURE_SELECT -> deviceFeatureSelect;
                case CommonCfg.DEVICE_FEATURE -> deviceFeatureSelect >>> 1 == 0 ? offered >>> (32 * deviceFeatureSelect) : 0;
                case CommonCfg.DRIVER_FEATURE_SELECT -> driverFeatureSelect;
                default -> driverFeatureSelect >>> 1 == 0 ? driverFeatures >>> (32 * driverFeatureSelect) : 0;
            };
        } else if (o < 0x14) {
            base = o & ~1;
            reg = base == CommonCfg.MSIX_CONFIG ? configVector : queues.length;
        } else if (o == CommonCfg.DEVICE_STATUS) {
            return status & 0xff;
        } else if (o == CommonCfg.CONFIG_GENERATION) {
            return configGeneration & 0xff;
        } else if (o < CommonCfg.QUEUE_DESC) {
            base = o & ~1;
            reg = switch (base) {
                case CommonCfg.QUEUE_SELECT -> queueSelect;
                case CommonCfg.QUEUE_SIZE -> q == null ? 0 : q.size();
                case CommonCfg.QUEUE_MSIX_VECTOR -> q == null ? VIRTIO_MSI_NO_VECTOR : queueVector[queueSelect];
                case CommonCfg.QUEUE_ENABLE -> q != null && q.isReady() ? 1 : 0;
                default -> q == null ? 0 : queueSelect; // queue_notify_off: queue i at NOTIFY + i * multiplier
            };
        } else {
            base = o & ~7;
            reg = q == null ? 0 : switch (base) {
                case CommonCfg.QUEUE_DESC -> q.descAddr();
                case CommonCfg.QUEUE_DRIVER -> q.availAddr();
                default -> q.usedAddr();
            };
        }
        return (int) (reg >>> (8 * (o - base))) & 0xff;
    }

    private synchronized void writeCommon(int o, int size, long value) {
        int v = (int) value;
        VirtQueue q = queueSelect < queues.length ? queues[queueSelect] : null;
        switch (o) {
            case CommonCfg.DEVICE_FEATURE_SELECT -> deviceFeatureSelect = v;
            case CommonCfg.DRIVER_FEATURE_SELECT -> driverFeatureSelect = v;
            case CommonCfg.DRIVER_FEATURE -> {
                if ((status & VIRTIO_CONFIG_S_FEATURES_OK) != 0 || driverFeatureSelect >>> 1 != 0) {
                    guestError("driver_feature write after FEATURES_OK or with select " + driverFeatureSelect);
                    return;
                }
                long shift = 32L * driverFeatureSelect;
                driverFeatures = (driverFeatures & ~(0xffff_ffffL << shift)) | ((value & 0xffff_ffffL) << shift);
            }
            case CommonCfg.MSIX_CONFIG -> configVector = validVector(v & 0xffff);
            case CommonCfg.DEVICE_STATUS -> writeStatus(v & 0xff);
            case CommonCfg.QUEUE_SELECT -> queueSelect = v & 0xffff;
            case CommonCfg.QUEUE_SIZE -> {
                if (q != null && !q.isReady()) {
                    try {
                        q.setSize(v & 0xffff);
                    } catch (GuestProtocolException e) {
                        guestError(e.getMessage());
                    }
                }
            }
            case CommonCfg.QUEUE_MSIX_VECTOR -> {
                if (q != null) {
                    queueVector[queueSelect] = validVector(v & 0xffff);
                }
            }
            case CommonCfg.QUEUE_ENABLE -> {
                if (q != null && (v & 0xffff) == 1 && !q.isReady()) {
                    try {
                        q.setFeatures((driverFeatures & 1L << VIRTIO_RING_F_EVENT_IDX) != 0,
                                (driverFeatures & 1L << VIRTIO_RING_F_INDIRECT_DESC) != 0);
                        q.enable();
                    } catch (GuestProtocolException e) {
                        needsReset(e.getMessage());
                    }
                }
            }
            default -> {
                if (o >= CommonCfg.QUEUE_DESC && o < CommonCfg.SIZEOF && q != null && !q.isReady()
                        && (size == 4 || size == 8) && (o & (size - 1)) == 0) {
                    writeQueueAddress(q, o, size, value);
                } else {
                    guestError("common config write of " + size + " bytes at 0x" + Integer.toHexString(o) + " ignored");
                }
            }
        }
    }

    private static void writeQueueAddress(VirtQueue q, int o, int size, long value) {
        long desc = q.descAddr(), avail = q.availAddr(), used = q.usedAddr();
        int base = o & ~7;
        long cur = base == CommonCfg.QUEUE_DESC ? desc : base == CommonCfg.QUEUE_DRIVER ? avail : used;
        long nv;
        if (size == 8) {
            nv = value;
        } else if ((o & 4) == 0) {
            nv = (cur & 0xffff_ffff_0000_0000L) | (value & 0xffff_ffffL);
        } else {
            nv = (cur & 0xffff_ffffL) | (value << 32);
        }
        switch (base) {
            case CommonCfg.QUEUE_DESC -> q.setAddresses(nv, avail, used);
            case CommonCfg.QUEUE_DRIVER -> q.setAddresses(desc, nv, used);
            default -> q.setAddresses(desc, avail, nv);
        }
    }

    private int validVector(int v) {
        return v < msix.vectors() ? v : VIRTIO_MSI_NO_VECTOR;
    }

    private void writeStatus(int v) {
        if (v == 0) {
            resetDevice();
            return;
        }
        int old = status;
        int nv = v | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
        if ((nv & VIRTIO_CONFIG_S_FEATURES_OK) != 0 && (old & VIRTIO_CONFIG_S_FEATURES_OK) == 0) {
            long unknown = driverFeatures & ~offered;
            if (unknown != 0 || (driverFeatures & 1L << VIRTIO_F_VERSION_1) == 0 || !device.acceptFeatures(driverFeatures)) {
                log.warn("{}: refusing features 0x{} (offered 0x{}){}", name(), Long.toHexString(driverFeatures),
                        Long.toHexString(offered), (driverFeatures & 1L << VIRTIO_F_VERSION_1) == 0
                        ? ": VIRTIO_F_VERSION_1 is required" : "");
                nv &= ~VIRTIO_CONFIG_S_FEATURES_OK; // the driver reads it back and gives up (§3.1.1)
            }
        }
        synchronized (statusLock) {
            status = nv | (status & VIRTIO_CONFIG_S_NEEDS_RESET);
        }
        if ((nv & VIRTIO_CONFIG_S_DRIVER_OK) != 0 && (old & VIRTIO_CONFIG_S_DRIVER_OK) == 0 && !active
                && (nv & VIRTIO_CONFIG_S_FEATURES_OK) != 0) {
            active = true;
            device.activate(new VirtioDevice.Activation(memory, driverFeatures, queues, kicks, this));
        }
    }

    /** Device reset (status 0, §2.4): stops the device threads, then forgets queues, features and vectors. */
    private void resetDevice() {
        device.reset(); // joins the device threads before their queues change under them
        for (VirtQueue q : queues) {
            q.reset();
        }
        for (EventFd k : kicks) {
            k.drain();
        }
        java.util.Arrays.fill(queueVector, VIRTIO_MSI_NO_VECTOR);
        configVector = VIRTIO_MSI_NO_VECTOR;
        driverFeatures = 0;
        deviceFeatureSelect = driverFeatureSelect = queueSelect = 0;
        active = false;
        synchronized (statusLock) {
            status = 0;
            isr = 0;
        }
    }

    // ---- saved state (snapshot, migration) ----

    /** "VPCI". */
    private static final int STATE_MAGIC = 0x56504349;
    private boolean quiesced;

    /**
     * Stops the device's threads between requests (see {@link VirtioDevice#quiesce()}), so that its state and the
     * guest RAM it writes hold still; {@link #unquiesce()} restarts them. Idempotent.
     */
    public synchronized void quiesce() {
        if (!quiesced) {
            quiesced = true;
            device.quiesce();
        }
    }

    public synchronized void unquiesce() {
        if (quiesced) {
            quiesced = false;
            device.unquiesce();
        }
    }

    /**
     * Writes format 1: the MSI-X table and PBA, the common configuration (feature selects, driver features, status,
     * config generation, queue select, ISR, config vector), each queue (its vector and {@link VirtQueue#saveState}),
     * the device's own state, and last the PCI config space. Call quiesced, with the vCPUs out of KVM_RUN.
     */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        StateCodec.header(out, STATE_MAGIC, 1);
        msix.saveState(out);
        out.writeInt(deviceFeatureSelect);
        out.writeInt(driverFeatureSelect);
        out.writeLong(driverFeatures);
        out.writeInt(status);
        out.writeInt(configGeneration);
        out.writeInt(queueSelect);
        out.writeInt(isr);
        out.writeInt(configVector);
        out.writeInt(queues.length);
        for (int q = 0; q < queues.length; q++) {
            out.writeInt(queueVector[q]);
            queues[q].saveState(out);
        }
        device.saveState(out);
        saveConfig(out);
    }

    /**
     * Restores what {@link #saveState} wrote into a transport freshly built for the same device, guest RAM already
     * restored. Features the driver holds must be ones this device offers; an active device is left quiesced, with
     * the driver's activation, and {@link #unquiesce()} starts it once the VM's interrupt routes and vCPU states are
     * loaded too (see {@link VirtioDevice#restored}). Any error leaves the transport to be discarded with its VM.
     */
    @Override
    public synchronized void restoreState(StateCodec.Reader in) throws IOException {
        in.header(STATE_MAGIC, 1);
        msix.restoreState(in);
        int dfs = in.readInt("device_feature_select");
        int drfs = in.readInt("driver_feature_select");
        long features = in.readLong("driver_features");
        if ((features & ~offered) != 0) {
            throw in.bad("driver_features", String.format("0x%x holds features this %s does not offer (0x%x)",
                    features, name(), offered));
        }
        int st = in.readInt("status", 0, 0xff);
        int gen = in.readInt("config_generation");
        int qs = in.readInt("queue_select", 0, 0xffff);
        int is = in.readInt("isr", 0, 1 | VIRTIO_PCI_ISR_CONFIG);
        int cv = in.readInt("msix_config", 0, 0xffff);
        int n = in.readInt("queues");
        if (n != queues.length) {
            throw in.bad("queues", n + " queues saved, this " + name() + " has " + queues.length);
        }
        for (int q = 0; q < queues.length; q++) {
            queueVector[q] = validVector(in.readInt("queue[" + q + "].msix_vector", 0, 0xffff));
            queues[q].restoreState(in.named(name() + " queue " + q));
        }
        device.restoreState(in.named(name() + " device"));
        deviceFeatureSelect = dfs;
        driverFeatureSelect = drfs;
        driverFeatures = features;
        configGeneration = gen;
        queueSelect = qs;
        configVector = validVector(cv);
        synchronized (statusLock) {
            status = st;
            isr = is;
        }
        restoreConfig(in.named(name() + " config space"));
        boolean ok = (st & VIRTIO_CONFIG_S_DRIVER_OK) != 0 && (st & VIRTIO_CONFIG_S_FEATURES_OK) != 0
                && (st & VIRTIO_CONFIG_S_NEEDS_RESET) == 0;
        if (ok && !device.acceptFeatures(features)) {
            throw in.bad("driver_features", String.format("0x%x is refused by %s", features, name()));
        }
        if (is != 0 && !msix.enabled() && intxGsi >= 0 && irqs != null) {
            irqs.setIrqLine(intxGsi, true);
        }
        if (ok) {
            active = true;
            device.restored(new VirtioDevice.Activation(memory, driverFeatures, queues, kicks, this));
            quiesced = true;
            // Chains the driver made available and kicked before the save but the device had not popped are in the
            // restored rings; their kicks were on the old eventfds, and with EVENT_IDX the driver will not kick again
            // for them. Look at every enabled queue once, as a kick would (a needless look finds nothing).
            for (int q = 0; q < queues.length; q++) {
                if (queues[q].isReady()) {
                    kicks[q].signal();
                }
            }
        }
    }

    @Override
    protected void onConfigRestored() {
        msixCap.configWritten(msixCap.offset() + MsixCapability.MESSAGE_CONTROL, 2);
    }

    // ---- interrupts (VirtioInterrupts, called from device threads) ----

    @Override
    public void signalQueue(int queue) {
        int vector = queueVector[queue];
        if (msix.enabled()) {
            if (vector != VIRTIO_MSI_NO_VECTOR) {
                msix.signal(vector);
            }
            return;
        }
        raiseIntx(1);
    }

    @Override
    public void signalConfig() {
        if (msix.enabled()) {
            synchronized (statusLock) {
                isr |= VIRTIO_PCI_ISR_CONFIG;
            }
            if (configVector != VIRTIO_MSI_NO_VECTOR) {
                msix.signal(configVector);
            }
            return;
        }
        raiseIntx(VIRTIO_PCI_ISR_CONFIG);
    }

    @Override
    public EventFd queueEventFd(int queue) {
        if (!msix.deviceSignalled() || !msix.enabled() || queue < 0 || queue >= queues.length) {
            return null;
        }
        int v = queueVector[queue];
        return v == VIRTIO_MSI_NO_VECTOR || v >= vectors.size() ? null : vectors.get(v).eventFd();
    }

    private void raiseIntx(int bit) {
        synchronized (statusLock) {
            isr |= bit;
        }
        if (intxGsi >= 0 && irqs != null) {
            irqs.setIrqLine(intxGsi, true);
        }
    }

    @Override
    public void needsReset(String why) {
        guestErrors.incrementAndGet();
        synchronized (statusLock) {
            if ((status & VIRTIO_CONFIG_S_NEEDS_RESET) != 0) {
                return;
            }
            status |= VIRTIO_CONFIG_S_NEEDS_RESET;
            configGeneration++;
        }
        log.warn("{}: NEEDS_RESET: {}", name(), why);
        if ((status & VIRTIO_CONFIG_S_DRIVER_OK) != 0) {
            signalConfig();
        }
    }

    private void guestError(String what) {
        long n = guestErrors.incrementAndGet();
        if (n <= 10 || Long.bitCount(n) == 1) {
            log.warn("{}: {} ({} guest errors so far)", name(), what, n);
        }
    }

    private void closeResources() {
        closeRegistrations();
        for (MsiInterrupt m : vectors) {
            m.close();
        }
        vectors.clear();
        for (EventFd k : kicks) {
            if (k != null) {
                k.close();
            }
        }
    }

    /** Stops the device, removes the ioeventfds, frees the vectors and eventfds. Close order: device first. */
    @Override
    public synchronized void close() {
        device.close();
        closeResources();
    }
}

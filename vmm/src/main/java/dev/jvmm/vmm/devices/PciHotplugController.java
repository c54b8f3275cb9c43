package dev.jvmm.vmm.devices;

import dev.jvmm.core.BusDevice;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.vmm.acpi.AcpiTables;
import java.io.DataOutput;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The PCI hotplug controller behind the DSDT's {@code \_SB.PHPR} (as Cloud Hypervisor's): 16 bytes of I/O at port
 * 0x620, four DWord registers, one bit per slot of root bus 0.
 * <ul>
 * <li>+0 PCIU, slots to add: read returns them and clears them;</li>
 * <li>+4 PCID, slots to remove: read returns them and clears them;</li>
 * <li>+8 B0EJ, eject: the guest's {@code _EJ0} of slot s writes {@code 1 << s} once it has released the device;
 * reads 0;</li>
 * <li>+12 PSEG, the PCI segment: reads 0, writes ignored.</li>
 * </ul>
 * {@link #requestAdd} and {@link #requestRemove} set a slot's bit and raise the GED's PCI hotplug event; the
 * guest's {@code PSCN} then notifies the slot (device check: it scans it; eject request: it unbinds the driver and
 * calls {@code _EJ0}). Accesses other than 4 aligned bytes read all ones and are dropped, as PCI config space does.
 * Thread-safe: vCPU threads read and write, other threads request.
 */
public final class PciHotplugController implements BusDevice, DeviceManager.Hotplug, Snapshottable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PciHotplugController.class);
    public static final int PORT = 0x620;
    public static final int LENGTH = AcpiTables.HOTPLUG_LENGTH;
    static final int PCIU = AcpiTables.HOTPLUG_PCIU, PCID = AcpiTables.HOTPLUG_PCID, B0EJ = AcpiTables.HOTPLUG_B0EJ,
            PSEG = AcpiTables.HOTPLUG_PSEG;
    /** Bits of slots that can be hotplugged: 1..31 (slot 0 is the host bridge). */
    static final int SLOT_MASK = ~1;
    /** "PHPC". */
    static final int MAGIC = 0x50485043;
    /** Format version of {@link #saveState}; {@link #restoreState} accepts this one only. */
    static final int VERSION = 1;

    /** Told of each slot the guest ejected (its {@code _EJ0} ran: the guest has let go of the device). */
    @FunctionalInterface
    public interface EjectListener {
        void ejected(int slot);
    }

    private final GedDevice ged;
    private final EjectListener listener;
    private final AtomicInteger up = new AtomicInteger();
    private final AtomicInteger down = new AtomicInteger();

    public PciHotplugController(GedDevice ged, EjectListener listener) {
        this.ged = ged;
        this.listener = listener;
    }

    /** Tells the guest that a device is now in {@code slot} (1..31): it scans the slot. */
    @Override
    public void requestAdd(int slot) {
        up.getAndUpdate(v -> v | bit(slot));
        ged.notify(GedDevice.PCI_HOTPLUG);
    }

    /** Asks the guest to release the device in {@code slot} (1..31); {@link EjectListener#ejected} says when. */
    @Override
    public void requestRemove(int slot) {
        down.getAndUpdate(v -> v | bit(slot));
        ged.notify(GedDevice.PCI_HOTPLUG);
    }

    /**
     * Takes back the removal request of {@code slot} if the guest has not read it yet (its PCID bit is still set);
     * true if it was taken back. The GED interrupt may still arrive: the guest then finds nothing to do.
     */
    @Override
    public boolean withdrawRemove(int slot) {
        int b = bit(slot);
        int before = down.getAndUpdate(v -> v & ~b);
        return (before & b) != 0;
    }

    private static int bit(int slot) {
        if (slot < AcpiTables.FIRST_HOTPLUG_SLOT || slot > AcpiTables.LAST_HOTPLUG_SLOT) {
            throw new IllegalArgumentException("no hotpluggable PCI slot " + slot + " (1..31)");
        }
        return 1 << slot;
    }

    @Override
    public long read(long offset, int size) {
        if (!valid(offset, size)) {
            return size >= 8 ? -1L : (1L << (8 * size)) - 1;
        }
        return switch ((int) offset) {
            case PCIU -> up.getAndSet(0) & 0xffff_ffffL;
            case PCID -> down.getAndSet(0) & 0xffff_ffffL;
            default -> 0; // B0EJ, PSEG
        };
    }

    @Override
    public void write(long offset, int size, long value) {
        if (!valid(offset, size)) {
            log.debug("pci-hotplug: write of {} bytes at +{} dropped", size, offset);
            return;
        }
        if (offset != B0EJ) {
            log.debug("pci-hotplug: write 0x{} to +{} ignored", Long.toHexString(value), offset);
            return;
        }
        int v = (int) value;
        if ((v & ~SLOT_MASK) != 0) {
            log.warn("pci-hotplug: the guest asked to eject slot 0 (the host bridge): ignored");
        }
        for (int s = v & SLOT_MASK; s != 0; s &= s - 1) {
            int slot = Integer.numberOfTrailingZeros(s);
            log.debug("pci-hotplug: the guest ejected slot {}", slot);
            listener.ejected(slot);
        }
    }

    /**
     * Writes format {@value #VERSION}: magic "PHPC", version, then PCIU and PCID, the slots to add and to remove that
     * the guest has not read yet (ints, one bit per slot 1..31). B0EJ and PSEG hold nothing.
     */
    @Override
    public void saveState(DataOutput out) throws IOException {
        StateCodec.header(out, MAGIC, VERSION);
        out.writeInt(up.get());
        out.writeInt(down.get());
    }

    /**
     * Reads what {@link #saveState} wrote, refusing a bit for slot 0 (the host bridge), makes it this controller's
     * state and, if a slot is pending, raises the GED's PCI hotplug event as a request does, so that the guest scans
     * for it (if it was already scanning, the extra scan finds nothing).
     */
    @Override
    public void restoreState(StateCodec.Reader in) throws IOException {
        in.header(MAGIC, VERSION);
        int u = slots(in, "pciu");
        int d = slots(in, "pcid");
        up.set(u);
        down.set(d);
        if ((u | d) != 0) {
            ged.notify(GedDevice.PCI_HOTPLUG);
        }
    }

    private static int slots(StateCodec.Reader in, String field) throws IOException {
        int v = in.readInt(field);
        if ((v & ~SLOT_MASK) != 0) {
            throw in.bad(field, String.format("0x%08x has the bit of slot 0 (the host bridge)", v));
        }
        return v;
    }

    private static boolean valid(long offset, int size) {
        return size == 4 && (offset & 3) == 0 && offset >= 0 && offset + size <= LENGTH;
    }
}

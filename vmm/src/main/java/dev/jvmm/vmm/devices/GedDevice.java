package dev.jvmm.vmm.devices;

import dev.jvmm.core.BusDevice;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.vmm.acpi.AcpiTables;
import java.io.DataOutput;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The Generic Event Device's event register (ACPI 6.5 §5.6.9; the DSDT's {@code \_SB.GED_}, ACPI0013): one byte at
 * I/O port 0x610 and an edge interrupt on GSI 5. {@link #notify(int)} sets event bits and pulses the interrupt;
 * the guest's GED driver runs {@code _EVT}, which reads the register once (the read returns the pending bits and
 * clears them) and dispatches: bit 0 PCI hotplug ({@code \_SB.PHPR.PSCN}), bit 1 the power button
 * ({@code Notify(\_SB.PWRB, 0x80)}, KEY_POWER in the guest). Writes are ignored.
 *
 * <p>Thread-safe: vCPU threads read, other threads (the control API, the hotplug controller) notify. The read takes
 * the bits with one atomic swap, so a bit set concurrently is either in this read or left for the next one; and
 * every notify sets its bits before its edge, with the edges serialized, so each bit set is followed by a rising
 * edge and a later _EVT run sees it.
 */
public final class GedDevice implements BusDevice, Snapshottable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(GedDevice.class);
    public static final int PORT = 0x610;
    public static final int LENGTH = 1;
    /** An ISA IRQ that nothing else uses (the 16550 has 4; PCI INTx are 16..23); edge, active high. */
    public static final int GSI = 5;
    public static final int PCI_HOTPLUG = AcpiTables.GED_PCI_HOTPLUG;
    public static final int POWER_BUTTON = AcpiTables.GED_POWER_BUTTON;
    /** "GED_". */
    static final int MAGIC = 0x4745445F;
    /** Format version of {@link #saveState}; {@link #restoreState} accepts this one only. */
    static final int VERSION = 1;

    private final IrqLine irq;
    private final AtomicInteger pending = new AtomicInteger();
    private final Object edge = new Object();

    public GedDevice(IrqLine irq) {
        this.irq = irq;
    }

    /** Raises the events {@code bits} (any of {@link #PCI_HOTPLUG}, {@link #POWER_BUTTON}) and pulses the GSI. */
    public void notify(int bits) {
        if (bits == 0 || (bits & ~0xff) != 0) {
            throw new IllegalArgumentException("GED event bits must be in 1..0xff: 0x" + Integer.toHexString(bits));
        }
        raise(bits);
        log.debug("acpi-ged: event 0x{}", Integer.toHexString(bits));
    }

    private void raise(int bits) {
        synchronized (edge) {
            pending.getAndUpdate(v -> v | bits);
            // edge-triggered: a rising edge per notify (a line left high would hide the next one)
            irq.setLevel(true);
            irq.setLevel(false);
        }
    }

    /** The events raised and not yet read by the guest. */
    public int pending() {
        return pending.get();
    }

    @Override
    public long read(long offset, int size) {
        if (offset != 0 || size != 1) {
            return size >= 8 ? -1L : (1L << (8 * size)) - 1; // as the bus answers where no register is
        }
        return pending.getAndSet(0);
    }

    @Override
    public void write(long offset, int size, long value) {
        log.debug("acpi-ged: write 0x{} ignored", Long.toHexString(value));
    }

    /** Writes format {@value #VERSION}: magic "GED_", version, then the pending event bits (an int, 0..0xff). */
    @Override
    public void saveState(DataOutput out) throws IOException {
        StateCodec.header(out, MAGIC, VERSION);
        out.writeInt(pending.get());
    }

    /**
     * Reads what {@link #saveState} wrote and raises the pending events again as {@link #notify} does (bits, then an
     * edge), so that the guest's _EVT runs and reads them; with none pending, the line stays quiet.
     */
    @Override
    public void restoreState(StateCodec.Reader in) throws IOException {
        in.header(MAGIC, VERSION);
        int bits = in.readInt("pending", 0, 0xff);
        if (bits != 0) {
            raise(bits);
        }
    }
}

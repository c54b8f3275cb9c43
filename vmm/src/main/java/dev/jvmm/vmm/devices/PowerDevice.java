package dev.jvmm.vmm.devices;

import dev.jvmm.core.BusDevice;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.vmm.acpi.AcpiTables;
import java.io.DataOutput;
import java.io.IOException;

/**
 * The hardware-reduced ACPI power registers (ACPI 6.5 §4.8.3.7-8, FADT SLEEP_CONTROL_REG / SLEEP_STATUS_REG /
 * RESET_REG), three byte-wide I/O ports: +0 sleep control (SLP_TYP in bits 4:2, SLP_EN bit 5), +1 sleep status
 * (WAK_STS bit 7), +2 reset register. Writing SLP_EN with the \_S5 sleep type powers off; writing the reset value
 * resets.
 */
public final class PowerDevice implements BusDevice, Snapshottable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PowerDevice.class);
    public static final int PORT = 0x600;
    public static final int LENGTH = 3;
    public static final int SLEEP_CONTROL = PORT;
    public static final int SLEEP_STATUS = PORT + 1;
    public static final int RESET = PORT + 2;
    public static final int RESET_VALUE = 0x01;
    static final int SLP_EN = 1 << 5;
    /** "ACPM". */
    static final int MAGIC = 0x4143504D;
    /** Format version of {@link #saveState}; {@link #restoreState} accepts this one only. */
    static final int VERSION = 1;

    /** Events reported to the VM. */
    public interface Events {
        void powerOff();

        void reset(String how);
    }

    private final Events events;

    public PowerDevice(Events events) {
        this.events = events;
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        log.debug("acpi-power: write 0x{} to +{}", Integer.toHexString(v), offset);
        if (offset == 0 && (v & SLP_EN) != 0) {
            int type = (v >> 2) & 7;
            if (type == AcpiTables.SLP_TYP_S5) {
                events.powerOff();
            }
        } else if (offset == 2 && v == RESET_VALUE) {
            events.reset("ACPI reset register");
        }
    }

    /**
     * Writes format {@value #VERSION}: magic "ACPM" and version, nothing else: the registers keep nothing between
     * accesses (they read 0, and a write acts at once), so the header is there for a later version to add to.
     */
    @Override
    public void saveState(DataOutput out) throws IOException {
        StateCodec.header(out, MAGIC, VERSION);
    }

    /** Reads what {@link #saveState} wrote. */
    @Override
    public void restoreState(StateCodec.Reader in) throws IOException {
        in.header(MAGIC, VERSION);
    }
}

package dev.jvmm.vmm.devices;

import dev.jvmm.core.BusDevice;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.state.StateCodec;
import java.io.DataOutput;
import java.io.IOException;

/**
 * QEMU's pvpanic device at I/O port 0x505 (ACPI id {@code QEMU0001}; Linux's {@code pvpanic-mmio} driver binds to
 * it): reading the port gives the events the device supports, the guest writes an event when it panics. It tells
 * jvmm about a panic even when the guest's console is not on the 16550 (where the "Kernel panic" banner is caught
 * otherwise). Bit 0, PANICKED: the guest panicked, the run ends with the crash status. Bit 1, CRASH_LOADED: the
 * guest panicked with a crash kernel loaded and goes on into it (kdump), so the VM keeps running.
 */
public final class PvPanic implements BusDevice, Snapshottable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(PvPanic.class);
    public static final int PORT = 0x505;
    public static final int PANICKED = 1;
    public static final int CRASH_LOADED = 2;
    /** "PVPN". */
    static final int MAGIC = 0x5056504E;
    /** Format version of {@link #saveState}; {@link #restoreState} accepts this one only. */
    static final int VERSION = 1;

    /** What the device reports. */
    public interface Events {
        void panicked();
    }

    private final Events events;

    public PvPanic(Events events) {
        this.events = events;
    }

    @Override
    public long read(long offset, int size) {
        return PANICKED | CRASH_LOADED;
    }

    @Override
    public void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        if ((v & PANICKED) != 0) {
            events.panicked();
        } else if ((v & CRASH_LOADED) != 0) {
            log.warn("pvpanic: the guest panicked and is starting its crash kernel (kdump)");
        } else if (v != 0) {
            log.debug("pvpanic: unknown event 0x{} ignored", Integer.toHexString(v));
        }
    }

    /**
     * Writes format {@value #VERSION}: magic "PVPN" and version, nothing else: the device keeps nothing (its
     * capabilities are fixed, and an event acts at once), so the header is there for a later version to add to.
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

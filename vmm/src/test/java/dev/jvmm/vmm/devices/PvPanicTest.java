package dev.jvmm.vmm.devices;

import static dev.jvmm.vmm.devices.DeviceStates.restore;
import static dev.jvmm.vmm.devices.DeviceStates.save;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The pvpanic port as Linux's driver uses it (drivers/misc/pvpanic): read the capabilities, write an event. */
class PvPanicTest {
    @Test
    void capabilitiesAndEvents() {
        AtomicInteger panics = new AtomicInteger();
        PvPanic p = new PvPanic(panics::incrementAndGet);
        assertEquals(PvPanic.PANICKED | PvPanic.CRASH_LOADED, p.read(0, 1));
        p.write(0, 1, PvPanic.CRASH_LOADED); // kdump: the guest goes on into its crash kernel
        p.write(0, 1, 0x80);                 // unknown event: ignored
        p.write(0, 1, 0);
        assertEquals(0, panics.get());
        p.write(0, 1, PvPanic.PANICKED);
        assertEquals(1, panics.get());
        p.write(0, 1, 0x100 | PvPanic.PANICKED); // only the low byte of the port counts
        assertEquals(2, panics.get());
    }

    /** The device keeps no state: its saved state is a header, and a restored one reads and acts the same. */
    @Test
    void stateRoundTripsAndBadInputIsRefused() throws IOException {
        AtomicInteger panics = new AtomicInteger();
        PvPanic p = new PvPanic(panics::incrementAndGet);
        p.write(0, 1, PvPanic.CRASH_LOADED);
        byte[] state = save(p);
        assertEquals(8, state.length);
        PvPanic r = restore(new PvPanic(panics::incrementAndGet), state);
        assertEquals(p.read(0, 1), r.read(0, 1));
        assertEquals(0, panics.get(), "save and restore raise no event");
        r.write(0, 1, PvPanic.PANICKED);
        assertEquals(1, panics.get());
        DeviceStates.refusesBadInput(state, PvPanic.MAGIC, () -> new PvPanic(panics::incrementAndGet));
        assertEquals(1, panics.get());
    }
}

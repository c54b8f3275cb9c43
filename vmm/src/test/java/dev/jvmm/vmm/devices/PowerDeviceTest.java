package dev.jvmm.vmm.devices;

import static dev.jvmm.vmm.devices.DeviceStates.restore;
import static dev.jvmm.vmm.devices.DeviceStates.save;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jvmm.vmm.acpi.AcpiTables;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** The ACPI power registers keep no state: their saved state is a header, and a restored device works as new. */
class PowerDeviceTest {
    private final List<String> events = new CopyOnWriteArrayList<>();

    private PowerDevice device() {
        return new PowerDevice(new PowerDevice.Events() {
            @Override
            public void powerOff() {
                events.add("off");
            }

            @Override
            public void reset(String how) {
                events.add("reset");
            }
        });
    }

    @Test
    void theStateIsTheHeaderAndARestoredDeviceReadsAndActsTheSame() throws IOException {
        PowerDevice p = device();
        p.write(0, 1, AcpiTables.SLP_TYP_S5 << 2); // the sleep type without SLP_EN: nothing happens
        p.write(2, 1, 0x02);                       // not the reset value
        byte[] state = save(p);
        assertEquals(8, state.length);
        PowerDevice r = restore(device(), state);
        for (int off = 0; off < PowerDevice.LENGTH; off++) {
            assertEquals(p.read(off, 1), r.read(off, 1), "+" + off);
        }
        assertEquals(List.of(), events, "save and restore raise no event");
        r.write(0, 1, AcpiTables.SLP_TYP_S5 << 2 | PowerDevice.SLP_EN);
        r.write(2, 1, PowerDevice.RESET_VALUE);
        assertEquals(List.of("off", "reset"), events);
    }

    @Test
    void badInputIsRefusedNamingTheField() throws IOException {
        DeviceStates.refusesBadInput(save(device()), PowerDevice.MAGIC, this::device);
        assertEquals(List.of(), events);
    }
}

package dev.jvmm.vmm.devices;

import static dev.jvmm.vmm.devices.DeviceStates.patchInt;
import static dev.jvmm.vmm.devices.DeviceStates.refused;
import static dev.jvmm.vmm.devices.DeviceStates.restore;
import static dev.jvmm.vmm.devices.DeviceStates.save;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** The i8042's saved state: the command byte and a command waiting for its data byte survive a restore. */
class I8042Test {
    private static final int DATA = 0, COMMAND = 4;
    private static final int READ_COMMAND_BYTE = 0x20, WRITE_COMMAND_BYTE = 0x60;
    private final List<String> events = new CopyOnWriteArrayList<>();

    private I8042 controller() {
        return new I8042(new PowerDevice.Events() {
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

    private static int commandByte(I8042 c) {
        c.write(COMMAND, 1, READ_COMMAND_BYTE);
        return (int) c.read(DATA, 1);
    }

    @Test
    void theCommandByteRoundTrips() throws IOException {
        I8042 c = controller();
        c.write(COMMAND, 1, WRITE_COMMAND_BYTE);
        c.write(DATA, 1, 0x47);
        c.write(COMMAND, 1, READ_COMMAND_BYTE);
        byte[] state = save(c);
        I8042 r = restore(controller(), state);
        assertEquals(0x47, r.read(DATA, 1), "the read-command-byte command is still the last one");
        assertEquals(c.read(DATA, 1), r.read(DATA, 1));
        assertEquals(c.read(COMMAND, 1), r.read(COMMAND, 1));
        assertEquals(0x47, commandByte(r));
        assertEquals(0, commandByte(controller()), "a fresh controller's command byte");
        assertEquals(List.of(), events, "save and restore raise no event");
        r.write(COMMAND, 1, I8042.CMD_RESET_CPU);
        assertEquals(List.of("reset"), events);
    }

    @Test
    void aWriteCommandByteCommandWaitingForItsDataRoundTrips() throws IOException {
        I8042 c = controller();
        c.write(COMMAND, 1, WRITE_COMMAND_BYTE);
        I8042 r = restore(controller(), save(c));
        r.write(DATA, 1, 0x65);
        c.write(DATA, 1, 0x65);
        assertEquals(0x65, commandByte(r));
        assertEquals(commandByte(c), commandByte(r));
        I8042 fresh = controller();
        fresh.write(DATA, 1, 0x65);
        assertEquals(0, commandByte(fresh), "without the command the data byte is dropped");
    }

    @Test
    void badInputIsRefusedNamingTheField() throws IOException {
        I8042 c = controller();
        c.write(COMMAND, 1, WRITE_COMMAND_BYTE);
        c.write(DATA, 1, 0x47);
        c.write(COMMAND, 1, READ_COMMAND_BYTE);
        byte[] state = save(c);
        assertEquals(16, state.length);
        DeviceStates.refusesBadInput(state, I8042.MAGIC, this::controller);
        refused(controller(), patchInt(state, 8, 0x100), "command_byte");
        refused(controller(), patchInt(state, 12, -1), "last_command");
        I8042 d = controller();
        refused(d, patchInt(state, 12, 0x1ff), "last_command");
        assertEquals(0, d.read(DATA, 1), "a refused state leaves the controller as it was");
        assertEquals(0, commandByte(d));
        assertEquals(List.of(), events);
    }
}

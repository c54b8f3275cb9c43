package dev.jvmm.vmm.devices;

import dev.jvmm.core.BusDevice;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.state.StateCodec;
import java.io.DataOutput;
import java.io.IOException;

/**
 * Just enough of the i8042 keyboard controller for {@code reboot=k}: ports 0x60 (data) and 0x64 (status/command).
 * Command 0xFE (pulse the CPU reset line) requests a reset; the status register reads "input buffer empty" so the
 * kernel's {@code kb_wait} succeeds. No keyboard or mouse.
 */
public final class I8042 implements BusDevice, Snapshottable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(I8042.class);
    public static final int DATA_PORT = 0x60;
    public static final int COMMAND_PORT = 0x64;
    static final int CMD_RESET_CPU = 0xfe;
    /** "I842". */
    static final int MAGIC = 0x49383432;
    /** Format version of {@link #saveState}; {@link #restoreState} accepts this one only. */
    static final int VERSION = 1;

    private final PowerDevice.Events events;
    private int commandByte;
    private int lastCommand;

    public I8042(PowerDevice.Events events) {
        this.events = events;
    }

    /** Registered at 0x60 with length 5 (0x60..0x64): offset 0 is data, offset 4 is status/command. */
    @Override
    public synchronized long read(long offset, int size) {
        if (offset == 0) {
            return lastCommand == 0x20 ? commandByte : 0;
        }
        if (offset == 4) {
            return 0x00; // output buffer empty, input buffer empty
        }
        return 0; // 0x61 (NMI status / PC speaker): a stub, as with KVM_PIT_SPEAKER_DUMMY

    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        if (offset == 4) {
            lastCommand = v;
            log.debug("i8042: command 0x{}", Integer.toHexString(v));
            if (v == CMD_RESET_CPU) {
                events.reset("i8042 reset (0xFE)");
            }
        } else if (offset == 0 && lastCommand == 0x60) {
            commandByte = v;
            lastCommand = 0;
        }
    }

    /**
     * Writes format {@value #VERSION}: magic "I842", version, then the command byte and the last command written
     * to port 0x64 (which decides what the next data port access means) as ints.
     */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        StateCodec.header(out, MAGIC, VERSION);
        out.writeInt(commandByte);
        out.writeInt(lastCommand);
    }

    /** Reads what {@link #saveState} wrote (each value a byte) and makes it this controller's state. */
    @Override
    public void restoreState(StateCodec.Reader in) throws IOException {
        in.header(MAGIC, VERSION);
        int commandByte = in.readInt("command_byte", 0, 0xff);
        int lastCommand = in.readInt("last_command", 0, 0xff);
        synchronized (this) {
            this.commandByte = commandByte;
            this.lastCommand = lastCommand;
        }
    }
}

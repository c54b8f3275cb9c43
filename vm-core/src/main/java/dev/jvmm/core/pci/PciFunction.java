package dev.jvmm.core.pci;

import dev.jvmm.sys.state.StateCodec;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Base class of an emulated PCI function with a type 0 header: identity registers, the command/status
 * registers, BAR sizing (PCI 3.0 §6.2.5.1: writing all ones reads back the size mask), the capability list
 * (through {@link #config()}), and the interrupt line/pin registers. Subclasses add capabilities and
 * override {@link #onConfigWrite} for device-specific registers.
 */
public class PciFunction implements PciDevice {
    private final String name;
    private final PciConfigSpace config;
    private final PciBar[] bars = new PciBar[6];
    private final List<PciBar> barList = new ArrayList<>();
    private final long[] decoded = {-1, -1, -1, -1, -1, -1};
    private volatile BarListener barListener = (f, b, o, n) -> { };

    /**
     * @param classCode 24-bit class code: base class [23:16], sub-class [15:8], programming interface [7:0]
     * @param extended  whether to expose PCIe extended config space
     */
    public PciFunction(String name, int vendorId, int deviceId, int classCode, int revision, boolean extended) {
        this.name = name;
        this.config = new PciConfigSpace(extended);
        config.set(PciConfigSpace.VENDOR_ID, 2, vendorId);
        config.set(PciConfigSpace.DEVICE_ID, 2, deviceId);
        config.set(PciConfigSpace.REVISION_ID, 1, revision);
        config.set(PciConfigSpace.CLASS_PROG, 3, classCode);
        config.setWritable(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_MEMORY
                | PciConfigSpace.COMMAND_BUS_MASTER | PciConfigSpace.COMMAND_INTX_DISABLE);
        config.setWritable(PciConfigSpace.INTERRUPT_LINE, 1, 0xff);
    }

    @Override
    public String name() {
        return name;
    }

    /** The raw config space, for subclasses and the VMM (capabilities, read-only state). */
    public PciConfigSpace config() {
        return config;
    }

    public void setSubsystem(int vendorId, int id) {
        config.set(PciConfigSpace.SUBSYSTEM_VENDOR_ID, 2, vendorId);
        config.set(PciConfigSpace.SUBSYSTEM_ID, 2, id);
    }

    /** Sets the legacy interrupt pin (1 = INTA#) and the line the firmware would have written. */
    public void setInterrupt(int pin, int line) {
        config.set(PciConfigSpace.INTERRUPT_PIN, 1, pin);
        config.set(PciConfigSpace.INTERRUPT_LINE, 1, line);
    }

    /** Declares a BAR; must be called before the function is placed on a bus. */
    public void addBar(PciBar bar) {
        int i = bar.index();
        if (bars[i] != null || (bar.kind() == PciBar.Kind.MEM64 && bars[i + 1] != null)
                || (i > 0 && bars[i - 1] != null && bars[i - 1].kind() == PciBar.Kind.MEM64)) {
            throw new IllegalArgumentException(name + ": BAR" + i + " is already in use");
        }
        bars[i] = bar;
        barList.add(bar);
        int off = PciConfigSpace.BAR0 + 4 * i;
        config.set(off, 4, bar.typeBits());
        config.setWritable(off, 4, (int) ~(bar.size() - 1) & (bar.kind() == PciBar.Kind.IO ? ~0x3 : ~0xf));
        if (bar.kind() == PciBar.Kind.MEM64) {
            config.setWritable(off + 4, 4, (int) ~((bar.size() - 1) >>> 32));
        }
    }

    @Override
    public List<PciBar> bars() {
        return Collections.unmodifiableList(barList);
    }

    /** The address programmed into BAR {@code index} (whether or not decoding is enabled). */
    public long barAddress(int index) {
        PciBar b = bars[index];
        int off = PciConfigSpace.BAR0 + 4 * index;
        long lo = config.get(off, 4) & 0xffff_ffffL;
        long mask = b.kind() == PciBar.Kind.IO ? ~0x3L : ~0xfL;
        long a = lo & mask & 0xffff_ffffL;
        if (b.kind() == PciBar.Kind.MEM64) {
            a |= (config.get(off + 4, 4) & 0xffff_ffffL) << 32;
        }
        return a;
    }

    /** The VMM places a BAR (as firmware would); decoding still follows the command register. */
    public void setBarAddress(int index, long address) {
        PciBar b = bars[index];
        if ((address & (b.size() - 1)) != 0) {
            throw new IllegalArgumentException(String.format("%s: BAR%d address 0x%x is not aligned to its size 0x%x",
                    name, index, address, b.size()));
        }
        int off = PciConfigSpace.BAR0 + 4 * index;
        config.set(off, 4, (int) address | b.typeBits());
        if (b.kind() == PciBar.Kind.MEM64) {
            config.set(off + 4, 4, (int) (address >>> 32));
        }
        updateDecoding();
    }

    /** Where BAR {@code index} is decoded now, or -1 when the command register disables its space. */
    public long decodedAddress(int index) {
        return decoded[index];
    }

    public void setBarListener(BarListener l) {
        this.barListener = l == null ? (f, b, o, n) -> { } : l;
    }

    @Override
    public int configRead(int offset, int size) {
        return config.read(offset, size);
    }

    @Override
    public final void configWrite(int offset, int size, int value) {
        config.write(offset, size, value);
        if (offset < PciConfigSpace.BAR0 + 24 && offset + size > PciConfigSpace.COMMAND) {
            updateDecoding();
        }
        onConfigWrite(offset, size, value);
    }

    /** Hook for device-specific registers (capabilities); called after the masked write was applied. */
    protected void onConfigWrite(int offset, int size, int value) {
    }

    /** Writes the config space (the guest's view of this function) to a saved state. */
    protected final void saveConfig(DataOutput out) throws IOException {
        StateCodec.blob(out, config.copy());
    }

    /**
     * Restores the config space from {@link #saveConfig}: the guest-writable bits (command, BARs, interrupt line,
     * capability control registers) come from the state, the rest stays as built; a state saved from another kind
     * of function (vendor, device or class differ) is refused. BARs are then decoded where the state places them
     * (the {@link BarListener} moves their registrations) and {@link #onConfigRestored()} runs.
     */
    protected final void restoreConfig(StateCodec.Reader in) throws IOException {
        byte[] saved = in.blob("config_space", PciConfigSpace.SIZE);
        int[][] identity = {{PciConfigSpace.VENDOR_ID, 2}, {PciConfigSpace.DEVICE_ID, 2}, {PciConfigSpace.CLASS_PROG, 3}};
        for (int[] f : identity) {
            int have = config.get(f[0], f[1]);
            int got = 0;
            for (int i = f[1] - 1; i >= 0; i--) {
                got = got << 8 | (saved[f[0] + i] & 0xff);
            }
            if (have != got) {
                throw in.bad("config_space", String.format("saved from another function (register 0x%02x is 0x%x, "
                        + "this %s has 0x%x)", f[0], got, name, have));
            }
        }
        config.restoreGuestBits(saved);
        updateDecoding();
        onConfigRestored();
    }

    /** Hook after {@link #restoreConfig}: bring device-side state in line with the restored registers. */
    protected void onConfigRestored() {
    }

    private void updateDecoding() {
        int cmd = config.get(PciConfigSpace.COMMAND, 2);
        for (PciBar b : barList) {
            boolean on = (cmd & (b.isMemory() ? PciConfigSpace.COMMAND_MEMORY : PciConfigSpace.COMMAND_IO)) != 0;
            long addr = barAddress(b.index());
            // While the guest sizes a BAR it holds the size mask; that is not a place to decode at.
            boolean sizing = addr == (~(b.size() - 1) & (b.kind() == PciBar.Kind.MEM64 ? -1L : 0xffff_ffffL)
                    & (b.isMemory() ? ~0xfL : ~0x3L));
            long now = on && !sizing && addr != 0 ? addr : -1;
            long old = decoded[b.index()];
            if (now != old) {
                decoded[b.index()] = now;
                barListener.barMoved(this, b, old, now);
            }
        }
    }
}

package dev.jvmm.vmm.devices;

import dev.jvmm.core.BusDevice;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.sys.state.StateCodec;
import java.io.DataOutput;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * A 16550A UART (8 registers at 0x3f8, IRQ 4): THR/RBR, IER, IIR/FCR, LCR, MCR (with loopback), LSR, MSR, SCR and
 * the divisor latch. Transmission is instant, so THR is always empty; a THR-empty interrupt is raised when the
 * guest enables ETBEI or writes THR (the Linux 8250 driver waits for it), a data-ready interrupt when input
 * arrives. Output goes to a sink; each complete line also goes to a line listener (used to spot kernel panics).
 */
public final class Serial16550 implements BusDevice, Snapshottable {
    public static final int COM1 = 0x3f8;
    public static final int COM1_IRQ = 4;
    static final int IER_ERBFI = 0x01, IER_ETBEI = 0x02;
    static final int IIR_NONE = 0x01, IIR_THRI = 0x02, IIR_RDI = 0x04, IIR_FIFO = 0xc0;
    static final int LCR_DLAB = 0x80;
    static final int MCR_LOOP = 0x10;
    static final int LSR_DR = 0x01, LSR_THRE = 0x20, LSR_TEMT = 0x40;
    private static final int RX_LIMIT = 4096;
    /** "U550". */
    static final int MAGIC = 0x55353530;
    /** Format version of {@link #saveState}; {@link #restoreState} accepts this one only. */
    static final int VERSION = 1;

    private final OutputStream out;
    private final IrqLine irq;
    private final Consumer<String> lineListener;
    private final ArrayDeque<Integer> rx = new ArrayDeque<>();
    private final StringBuilder line = new StringBuilder();
    private int ier, lcr = 0x03, mcr = 0x08, scr, dll = 0x0c, dlm, fcr;
    private boolean thrInterrupt;
    private boolean irqLevel;
    private volatile boolean dirty;

    public Serial16550(OutputStream out, IrqLine irq, Consumer<String> lineListener) {
        this.out = out;
        this.irq = irq;
        this.lineListener = lineListener;
    }

    @Override
    public synchronized long read(long offset, int size) {
        int r;
        switch ((int) offset) {
            case 0 -> {
                if ((lcr & LCR_DLAB) != 0) {
                    r = dll;
                } else {
                    Integer b = rx.poll();
                    r = b == null ? 0 : b;
                }
            }
            case 1 -> r = (lcr & LCR_DLAB) != 0 ? dlm : ier;
            case 2 -> {
                r = iir();
                if ((r & 0x0f) == IIR_THRI) {
                    thrInterrupt = false; // reading IIR clears a THR-empty interrupt (16550 datasheet)
                }
            }
            case 3 -> r = lcr;
            case 4 -> r = mcr;
            case 5 -> r = LSR_THRE | LSR_TEMT | (rx.isEmpty() ? 0 : LSR_DR);
            case 6 -> {
                if ((mcr & MCR_LOOP) != 0) {
                    // loopback: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD
                    r = (mcr & 0x01) << 5 | (mcr & 0x02) << 3 | (mcr & 0x04) << 4 | (mcr & 0x08) << 4;
                } else {
                    r = 0xb0; // DCD, DSR, CTS
                }
            }
            case 7 -> r = scr;
            default -> r = 0xff;
        }
        updateIrq();
        return r;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int v = (int) value & 0xff;
        switch ((int) offset) {
            case 0 -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dll = v;
                } else {
                    if ((mcr & MCR_LOOP) != 0) {
                        if (rx.size() < RX_LIMIT) {
                            rx.add(v);
                        }
                    } else {
                        transmit(v);
                    }
                    thrInterrupt = true;
                }
            }
            case 1 -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dlm = v;
                } else {
                    if ((v & IER_ETBEI) != 0 && (ier & IER_ETBEI) == 0) {
                        thrInterrupt = true; // enabling ETBEI with THR empty raises the interrupt at once
                    }
                    ier = v & 0x0f;
                }
            }
            case 2 -> {
                fcr = v & 0xc9;
                if ((v & 0x02) != 0) {
                    rx.clear();
                }
            }
            case 3 -> lcr = v;
            case 4 -> mcr = v & 0x1f;
            case 7 -> scr = v;
            default -> { }
        }
        updateIrq();
    }

    /** Input from the console (stdin or a socket client). Bytes beyond a 4 KiB backlog are dropped. */
    public synchronized void receive(byte[] data, int len) {
        for (int i = 0; i < len && rx.size() < RX_LIMIT; i++) {
            rx.add(data[i] & 0xff);
        }
        updateIrq();
    }

    /**
     * Writes format {@value #VERSION}: magic "U550", version, then IER, LCR, MCR, SCR, DLL, DLM and FCR as ints, the
     * pending THR-empty interrupt (a boolean byte), and the received bytes the guest has not read (a blob of at most
     * 4096). The interrupt level follows from these; the console sink and the partial output line are host-side.
     */
    @Override
    public synchronized void saveState(DataOutput out) throws IOException {
        StateCodec.header(out, MAGIC, VERSION);
        for (int r : new int[] {ier, lcr, mcr, scr, dll, dlm, fcr}) {
            out.writeInt(r);
        }
        out.writeBoolean(thrInterrupt);
        byte[] pending = new byte[rx.size()];
        int i = 0;
        for (int b : rx) {
            pending[i++] = (byte) b;
        }
        StateCodec.blob(out, pending);
    }

    /**
     * Reads what {@link #saveState} wrote, refusing a register with bits its guest write would not keep, and only
     * then makes it this UART's state; raises the interrupt line if that state has an interrupt pending.
     */
    @Override
    public void restoreState(StateCodec.Reader in) throws IOException {
        in.header(MAGIC, VERSION);
        int ier = in.readInt("ier", 0, 0x0f);
        int lcr = in.readInt("lcr", 0, 0xff);
        int mcr = in.readInt("mcr", 0, 0x1f);
        int scr = in.readInt("scr", 0, 0xff);
        int dll = in.readInt("dll", 0, 0xff);
        int dlm = in.readInt("dlm", 0, 0xff);
        int fcr = in.readInt("fcr", 0, 0xff);
        if ((fcr & ~0xc9) != 0) {
            throw in.bad("fcr", String.format("0x%02x has bits outside 0xc9 (FIFO enable, DMA mode, trigger level)",
                    fcr));
        }
        boolean thrInterrupt = in.readBoolean("thr_interrupt");
        byte[] pending = in.blob("rx", 0, RX_LIMIT);
        synchronized (this) {
            this.ier = ier;
            this.lcr = lcr;
            this.mcr = mcr;
            this.scr = scr;
            this.dll = dll;
            this.dlm = dlm;
            this.fcr = fcr;
            this.thrInterrupt = thrInterrupt;
            rx.clear();
            for (byte b : pending) {
                rx.add(b & 0xff);
            }
            updateIrq();
        }
    }

    private int iir() {
        int fifo = (fcr & 0x01) != 0 ? IIR_FIFO : 0;
        if ((ier & IER_ERBFI) != 0 && !rx.isEmpty()) {
            return IIR_RDI | fifo;
        }
        if ((ier & IER_ETBEI) != 0 && thrInterrupt) {
            return IIR_THRI | fifo;
        }
        return IIR_NONE | fifo;
    }

    private void updateIrq() {
        boolean level = (iir() & IIR_NONE) == 0;
        if (level != irqLevel) {
            irqLevel = level;
            irq.setLevel(level);
        }
    }

    private void transmit(int b) {
        try {
            out.write(b);
            dirty = true;
            if (b == '\n') {
                out.flush();
                dirty = false;
            }
        } catch (IOException e) {
            // The console sink went away (closed pipe or socket); the guest keeps running.
        }
        if (b == '\n') {
            lineListener.accept(line.toString());
            line.setLength(0);
        } else if (b != '\r' && line.length() < 1024) {
            line.append((char) b);
        }
    }

    /** Flushes buffered output (called periodically so a prompt without a newline shows up). */
    public void flushIfDirty() {
        if (dirty) {
            synchronized (this) {
                try {
                    out.flush();
                } catch (IOException e) {
                    // see transmit
                }
                dirty = false;
            }
        }
    }

    /** The text of the current incomplete line (for diagnostics). */
    public synchronized String partialLine() {
        return line.toString();
    }

    static String ascii(byte[] b) {
        return new String(b, StandardCharsets.US_ASCII);
    }
}

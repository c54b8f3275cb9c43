package dev.jvmm.vmm.devices;

import static dev.jvmm.vmm.devices.DeviceStates.patchInt;
import static dev.jvmm.vmm.devices.DeviceStates.refused;
import static dev.jvmm.vmm.devices.DeviceStates.restore;
import static dev.jvmm.vmm.devices.DeviceStates.save;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The UART's saved state: what the guest reads after a restore, the interrupt it had pending, and bad input. */
class Serial16550Test {
    private static final int THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;
    /** Offsets in the saved state: the header, then seven ints, the THR-empty flag, the receive buffer. */
    private static final int AT_IER = 8, AT_LCR = 12, AT_MCR = 16, AT_FCR = 32, AT_THR = 36, AT_RX = 37;

    private final ByteArrayOutputStream console = new ByteArrayOutputStream();

    private Serial16550 uart(IrqLine line) {
        return new Serial16550(console, line, s -> { });
    }

    /** What the guest reads from every register, DLAB as it is and then set, and then the bytes waiting. */
    record Probe(int ier, int iir, int lcr, int mcr, int lsr, int msr, int scr, int dll, int dlm, List<Integer> rx) {
        static Probe of(Serial16550 u) {
            int lcr = (int) u.read(LCR, 1);
            int ier = (int) u.read(IER, 1); // DLM if the guest left DLAB set
            int iir = (int) u.read(IIR, 1); // clears a THR-empty interrupt, as on the chip
            int mcr = (int) u.read(MCR, 1), lsr = (int) u.read(LSR, 1), msr = (int) u.read(MSR, 1);
            int scr = (int) u.read(SCR, 1);
            u.write(LCR, 1, lcr | Serial16550.LCR_DLAB);
            int dll = (int) u.read(0, 1), dlm = (int) u.read(1, 1);
            u.write(LCR, 1, lcr & ~Serial16550.LCR_DLAB);
            List<Integer> rx = new ArrayList<>();
            while ((u.read(LSR, 1) & Serial16550.LSR_DR) != 0) {
                rx.add((int) u.read(THR, 1));
            }
            u.write(LCR, 1, lcr);
            return new Probe(ier, iir, lcr, mcr, lsr, msr, scr, dll, dlm, rx);
        }
    }

    private static List<Integer> ints(String s) {
        List<Integer> l = new ArrayList<>();
        for (byte b : s.getBytes(StandardCharsets.US_ASCII)) {
            l.add(b & 0xff);
        }
        return l;
    }

    /** 115200 8E1, FIFO on, OUT2, a scratch value and the data-ready interrupt enabled, as Linux's 8250 sets it. */
    private static void program(Serial16550 u) {
        u.write(LCR, 1, Serial16550.LCR_DLAB | 0x1b);
        u.write(0, 1, 0x01);
        u.write(1, 1, 0x00);
        u.write(LCR, 1, 0x1b);
        u.write(FCR, 1, 0xc7); // FIFO on, both cleared, trigger at 14
        u.write(MCR, 1, 0x0b);
        u.write(SCR, 1, 0x5a);
        u.write(IER, 1, Serial16550.IER_ERBFI | 0x04);
    }

    @Test
    void registersAndUnreadInputRoundTripAndTheDataReadyInterruptIsRaisedAgain() throws IOException {
        GedDeviceTest.EdgeLine line = new GedDeviceTest.EdgeLine();
        Serial16550 u = uart(line);
        program(u);
        byte[] in = "root\n".getBytes(StandardCharsets.US_ASCII);
        u.receive(in, in.length);
        assertTrue(line.level());
        byte[] state = save(u);
        assertEquals(Serial16550.MAGIC, ByteBuffer.wrap(state).getInt(0));

        GedDeviceTest.EdgeLine line2 = new GedDeviceTest.EdgeLine();
        Serial16550 r = restore(uart(line2), state);
        assertEquals(List.of(true), line2.levels, "the data-ready interrupt is raised at restore");
        Probe before = Probe.of(u), after = Probe.of(r);
        assertEquals(before, after);
        assertEquals(new Probe(0x05, Serial16550.IIR_FIFO | Serial16550.IIR_RDI, 0x1b, 0x0b,
                Serial16550.LSR_THRE | Serial16550.LSR_TEMT | Serial16550.LSR_DR, 0xb0, 0x5a, 0x01, 0x00,
                ints("root\n")), after);
        assertFalse(line2.level(), "the input read, the interrupt drops");
        assertEquals(List.of(true, false), line2.levels);
        assertEquals(0, console.size(), "nothing transmitted by save or restore");
    }

    @Test
    void aPendingThrEmptyInterruptIsRaisedAgainAndClearedByTheIirRead() throws IOException {
        GedDeviceTest.EdgeLine line = new GedDeviceTest.EdgeLine();
        Serial16550 u = uart(line);
        u.write(IER, 1, Serial16550.IER_ETBEI);
        assertTrue(line.level());
        byte[] pending = save(u);
        GedDeviceTest.EdgeLine line2 = new GedDeviceTest.EdgeLine();
        Serial16550 r = restore(uart(line2), pending);
        assertTrue(line2.level(), "THR-empty re-raised");
        assertEquals(Serial16550.IIR_THRI, r.read(IIR, 1));
        assertFalse(line2.level());
        assertEquals(Serial16550.IIR_NONE, r.read(IIR, 1), "the read cleared it, as on the original");
        assertEquals(Serial16550.IIR_THRI, u.read(IIR, 1));
        assertEquals(Serial16550.IIR_NONE, u.read(IIR, 1));

        byte[] taken = save(u); // ETBEI still on, the interrupt taken
        GedDeviceTest.EdgeLine line3 = new GedDeviceTest.EdgeLine();
        Serial16550 q = restore(uart(line3), taken);
        assertEquals(List.of(), line3.levels, "nothing pending, the line is not touched");
        assertEquals(Probe.of(u), Probe.of(q));
        q.write(THR, 1, 'x');
        assertTrue(line3.level(), "a write to THR raises THR-empty again (ETBEI was restored)");
    }

    @Test
    void loopbackWithDlabLeftSetRoundTrips() throws IOException {
        GedDeviceTest.EdgeLine line = new GedDeviceTest.EdgeLine();
        Serial16550 u = uart(line);
        u.write(MCR, 1, Serial16550.MCR_LOOP | 0x03);
        u.write(THR, 1, 'o');
        u.write(THR, 1, 'k');
        u.write(LCR, 1, Serial16550.LCR_DLAB | 0x03);
        u.write(0, 1, 0x30);
        u.write(1, 1, 0x02);
        assertFalse(line.level(), "IER is 0");
        Serial16550 r = restore(uart(new GedDeviceTest.EdgeLine()), save(u));
        assertEquals(0x30, r.read(0, 1), "DLAB still set: offset 0 is DLL");
        Probe after = Probe.of(r);
        assertEquals(Probe.of(u), after);
        assertEquals(ints("ok"), after.rx());
        assertEquals(0x30, after.msr(), "loopback: DTR to DSR, RTS to CTS");
        assertEquals(0x02, after.dlm());
        assertEquals(0, console.size(), "loopback sent nothing out");
    }

    @Test
    void badInputIsRefusedNamingTheField() throws IOException {
        Serial16550 u = uart(new GedDeviceTest.EdgeLine());
        program(u);
        byte[] in = "abc".getBytes(StandardCharsets.US_ASCII);
        u.receive(in, in.length);
        byte[] state = save(u);
        assertEquals(AT_RX + 4 + 3, state.length);
        DeviceStates.refusesBadInput(state, Serial16550.MAGIC, () -> uart(new GedDeviceTest.EdgeLine()));

        refused(uart(b -> { }), patchInt(state, AT_IER, 0x10), "ier");
        refused(uart(b -> { }), patchInt(state, AT_LCR, 0x100), "lcr");
        refused(uart(b -> { }), patchInt(state, AT_MCR, 0x20), "mcr");
        refused(uart(b -> { }), patchInt(state, AT_FCR, 0x02), "fcr"); // "clear receive FIFO" is an action
        refused(uart(b -> { }), patchInt(state, AT_FCR, -1), "fcr");
        byte[] thr = state.clone();
        thr[AT_THR] = 2;
        refused(uart(b -> { }), thr, "thr_interrupt");
        refused(uart(b -> { }), patchInt(state, AT_RX, 4097), "rx");
        refused(uart(b -> { }), patchInt(state, AT_RX, -1), "rx");
        refused(uart(b -> { }), patchInt(state, AT_RX, 4), "rx"); // longer than what follows: truncated

        // a refused state leaves the device as it was
        GedDeviceTest.EdgeLine line = new GedDeviceTest.EdgeLine();
        Serial16550 d = uart(line);
        refused(d, patchInt(state, AT_RX, 4097), "rx");
        assertEquals(Probe.of(uart(b -> { })), Probe.of(d));
        assertEquals(List.of(), line.levels);

        // a full receive buffer is the bound, and round-trips
        Serial16550 full = uart(b -> { });
        byte[] lots = new byte[5000];
        Arrays.fill(lots, (byte) 'z');
        full.receive(lots, lots.length);
        Probe p = Probe.of(restore(uart(b -> { }), save(full)));
        assertEquals(4096, p.rx().size());
    }
}

package dev.jvmm.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.kvm.ExitReason;
import dev.jvmm.sys.kvm.Sregs;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import dev.jvmm.sys.testing.KvmTest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** kvm tier: tiny hand-assembled guests on the real /dev/kvm. */
@KvmTest
class KvmGuestsTest {

    /** Prints the NUL-terminated string at {@code msg} to port 0x3f8, then halts. 16-bit code. */
    private static byte[] realModePrint(int msg) {
        return new byte[] {
            (byte) 0xBA, (byte) 0xF8, 0x03,              // mov dx, 0x3f8
            (byte) 0xBE, (byte) msg, (byte) (msg >> 8),  // mov si, msg
            (byte) 0xAC,                                 // loop: lodsb
            (byte) 0x84, (byte) 0xC0,                    // test al, al
            0x74, 0x03,                                  // jz done
            (byte) 0xEE,                                 // out dx, al
            (byte) 0xEB, (byte) 0xF8,                    // jmp loop
            (byte) 0xF4,                                 // done: hlt
        };
    }

    /** The same in 64-bit code. */
    private static byte[] longModePrint(int msg) {
        return new byte[] {
            0x66, (byte) 0xBA, (byte) 0xF8, 0x03,                               // mov dx, 0x3f8
            (byte) 0xBE, (byte) msg, (byte) (msg >> 8), (byte) (msg >> 16), 0,  // mov esi, msg
            (byte) 0xAC,                                                        // loop: lodsb
            (byte) 0x84, (byte) 0xC0,                                           // test al, al
            0x74, 0x03,                                                         // jz done
            (byte) 0xEE,                                                        // out dx, al
            (byte) 0xEB, (byte) 0xF8,                                           // jmp loop
            (byte) 0xF4,                                                        // done: hlt
        };
    }

    private static void string(TinyGuest g, long at, String s) {
        g.mem.write(at, (s + "\0").getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void realModeGuestWritesToTheSerialPortAndHalts() {
        try (TinyGuest g = new TinyGuest(false)) {
            g.realMode(realModePrint(0x1800));
            string(g, 0x1800, "hello from real mode\n");
            assertEquals(ExitReason.HLT, g.runUntilDone(1000));
            assertEquals("hello from real mode\n", g.serial.toString());
            System.out.print("kvm guest 1a (real mode) printed: " + g.serial);
        }
    }

    @Test
    void longModeGuestWritesToTheSerialPortAndHalts() {
        try (TinyGuest g = new TinyGuest(false)) {
            g.longMode(longModePrint(0x1800));
            string(g, 0x1800, "hello from 64-bit long mode\n");
            assertEquals(ExitReason.HLT, g.runUntilDone(1000));
            assertEquals("hello from 64-bit long mode\n", g.serial.toString());
            Sregs s = g.vcpu.getSregs();
            assertTrue((s.efer & 0x400) != 0, "EFER.LMA set: the guest really ran in long mode");
            assertEquals(1, s.cs.l, "CS.L = 1");
            System.out.print("kvm guest 1b (long mode, EFER=0x" + Long.toHexString(s.efer) + ") printed: " + g.serial);
        }
    }

    @Test
    void accessToUnbackedAddressIsDispatchedToAJavaMmioHandler() {
        List<String> accesses = new ArrayList<>();
        try (TinyGuest g = new TinyGuest(false)) {
            g.mmio.register(0x100000, 0x1000, new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    accesses.add("read off=" + offset + " size=" + size);
                    return 0x12345678L;
                }

                @Override
                public void write(long offset, int size, long value) {
                    accesses.add("write off=" + offset + " size=" + size + " value=0x" + Long.toHexString(value));
                }
            }, "test-mmio");
            g.longMode(new byte[] {
                (byte) 0x8B, 0x04, 0x25, 0x00, 0x00, 0x10, 0x00,    // mov eax, [0x100000]
                (byte) 0x83, (byte) 0xC0, 0x01,                     // add eax, 1
                (byte) 0x89, 0x04, 0x25, 0x08, 0x00, 0x10, 0x00,    // mov [0x100008], eax
                (byte) 0xF4,                                        // hlt
            });
            assertEquals(ExitReason.HLT, g.runUntilDone(100));
            assertEquals(List.of("read off=0 size=4", "write off=8 size=4 value=0x12345679"), accesses);
            System.out.println("kvm guest 2 (MMIO to Java handler): " + accesses);
        }
    }

    @Test
    void ioeventfdIsSignalledWithoutAnExitToUserspace() {
        try (TinyGuest g = new TinyGuest(false); EventFd efd = EventFd.create("ioeventfd-test")) {
            g.vm.ioeventfd(0, 0x500, 1, efd.fd(), KvmConstants.KVM_IOEVENTFD_FLAG_PIO);
            g.realMode(new byte[] {
                (byte) 0xBA, 0x00, 0x05,        // mov dx, 0x500
                (byte) 0xB0, 0x01,              // mov al, 1
                (byte) 0xEE, (byte) 0xEE,       // out dx, al (twice)
                (byte) 0xBA, (byte) 0xF8, 0x03, // mov dx, 0x3f8
                (byte) 0xB0, 'D',               // mov al, 'D'
                (byte) 0xEE,                    // out dx, al
                (byte) 0xF4,                    // hlt
            });
            assertEquals(ExitReason.HLT, g.runUntilDone(100));
            assertEquals("D", g.serial.toString());
            assertEquals(List.of("1016:out"), g.ioExits, "only the serial write exits; the 0x500 writes stay in the kernel");
            assertEquals(2, efd.drain(), "two guest writes signalled the eventfd twice");
            g.vm.ioeventfd(0, 0x500, 1, efd.fd(),
                    KvmConstants.KVM_IOEVENTFD_FLAG_PIO | KvmConstants.KVM_IOEVENTFD_FLAG_DEASSIGN);
            System.out.println("kvm guest 3 (ioeventfd): 2 signals, userspace exits " + g.ioExits);
        }
    }

    @Test
    void irqfdInterruptRunsTheGuestHandler() throws Exception {
        try (TinyGuest g = new TinyGuest(true); EventFd irq = EventFd.create("irqfd-test")) {
            g.vm.createPit2(KvmConstants.KVM_PIT_SPEAKER_DUMMY);
            final int gsi = 5;
            g.vm.irqfd(irq.fd(), gsi, 0, 0);
            g.realMode(TinyGuest.concat(TinyGuest.picInit(0xDF), TinyGuest.readyThenWait())); // unmask IRQ 5 only
            g.ivt(0x25, 0x1100, new byte[] {                   // vector 0x20 (PIC base) + IRQ 5
                (byte) 0xB0, 'I', (byte) 0xEE,                  // out 'I': the handler ran
                (byte) 0xB0, 0x20, (byte) 0xE6, 0x20,           // EOI
                (byte) 0xBA, 0x01, 0x05, (byte) 0xEE,           // out to DONE_PORT
                (byte) 0xF4,
            });
            g.enableLapic();
            assertEquals(ExitReason.IO, g.runFiringWhenReady(irq::signal));
            assertEquals("RI", g.serial.toString(), "the interrupt handler ran after the irqfd fired");
            assertEquals(TinyGuest.DONE_PORT + ":out", g.ioExits.get(g.ioExits.size() - 1));
            g.vm.irqfd(irq.fd(), gsi, KvmConstants.KVM_IRQFD_FLAG_DEASSIGN, 0);
            System.out.println("kvm guest 4 (irqfd, in-kernel irqchip): serial '" + g.serial + "', exits " + g.ioExits);
        }
    }
}

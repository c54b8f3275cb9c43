package dev.jvmm.irq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.core.TinyGuest;
import dev.jvmm.core.irq.MsiInterrupt;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.kvm.ExitReason;
import dev.jvmm.sys.testing.KvmTest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** kvm tier: MSI routes, irqfd with resamplefd and ioeventfd datamatch, against the real in-kernel irqchip. */
@KvmTest
class IrqRoutingKvmTest {
    private static final byte[] PRINT_AND_DONE_M = {
        (byte) 0xB0, 'M', (byte) 0xEE,          // out 'M'
        (byte) 0xBA, 0x01, 0x05, (byte) 0xEE,   // out to DONE_PORT
        (byte) 0xF4,
    };

    @Test
    void msiVectorRoutedThroughTheTableReachesTheGuestLapic() throws Exception {
        try (TinyGuest g = new TinyGuest(true); IrqRouter router = new IrqRouter(g.vm)) {
            int legacy = router.table().size();
            assertEquals(24 + 15, legacy, "24 IOAPIC pins + 15 PIC pins (IRQ 2 is the cascade)");
            MsiInterrupt v = router.allocateMsi("test");
            assertTrue(v.gsi() >= IrqRouter.FIRST_MSI_GSI);
            // fixed delivery to APIC id 0, vector 0x40, edge: what a guest writes into an MSI-X table entry
            v.route(0xFEE00000L, 0x40);
            assertEquals(legacy + 1, router.table().size(), "legacy routes + 1 MSI route");
            g.realMode(TinyGuest.concat(TinyGuest.picInit(0xFF), TinyGuest.readyThenWait()));
            g.ivt(0x40, 0x1100, PRINT_AND_DONE_M);
            g.enableLapic();
            assertEquals(ExitReason.IO, g.runFiringWhenReady(v::trigger));
            assertEquals("RM", g.serial.toString());
            v.close();
            v.close();
            assertEquals(0, router.gsis().inUse(), "closing the vector freed its GSI");
            assertEquals(legacy, router.table().size(), "and removed its route");
            System.out.println("irq-routing: MSI via GSI " + v.gsi() + " delivered vector 0x40; serial " + g.serial);
        }
    }

    /**
     * A held vector (what a passed-through device's masked MSI-X vector is): the device's signal waits in the
     * eventfd while the guest sits in hlt with interrupts on, is seen as pending, and is delivered on release.
     */
    @Test
    void aHeldVectorWaitsInItsEventfdAndIsDeliveredOnRelease() throws Exception {
        try (TinyGuest g = new TinyGuest(true); IrqRouter router = new IrqRouter(g.vm)) {
            MsiInterrupt v = router.allocateMsi("held");
            v.route(0xFEE00000L, 0x40);
            v.hold(true);
            assertFalse(v.heldSignal(), "nothing signalled yet");
            g.realMode(TinyGuest.concat(TinyGuest.picInit(0xFF), TinyGuest.readyThenWait()));
            g.ivt(0x40, 0x1100, PRINT_AND_DONE_M);
            g.enableLapic();
            String[] whileHeld = new String[1];
            boolean[] pending = new boolean[1];
            assertEquals(ExitReason.IO, g.runFiringWhenReady(() -> {
                v.trigger(); // the device signals the masked vector while the guest waits with interrupts enabled
                try {
                    Thread.sleep(300);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                whileHeld[0] = g.serial.toString();
                pending[0] = v.heldSignal();
                v.hold(false);
            }));
            assertEquals("R", whileHeld[0], "nothing reached the guest while the vector was held");
            assertTrue(pending[0], "the signal was seen as the vector's pending bit");
            assertEquals("RM", g.serial.toString(), "released: the held signal was delivered");
            v.close();
            System.out.println("irq-routing: held MSI vector: serial '" + whileHeld[0] + "' while held, '"
                    + g.serial + "' after release");
        }
    }

    @Test
    void levelIrqfdWithResamplefdIsSignalledOnGuestEoi() throws Exception {
        try (TinyGuest g = new TinyGuest(true); IrqRouter router = new IrqRouter(g.vm);
                EventFd trigger = EventFd.create("intx"); EventFd resample = EventFd.create("intx-resample")) {
            IrqfdRegistration reg = router.irqfd(trigger, 5, resample);
            g.realMode(TinyGuest.concat(TinyGuest.picInit(0xDF), TinyGuest.readyThenWait()));
            g.ivt(0x25, 0x1100, new byte[] {
                (byte) 0xB0, 'L', (byte) 0xEE,                 // out 'L'
                (byte) 0xB0, 0x20, (byte) 0xE6, 0x20,          // EOI to the PIC: KVM resamples the line
                (byte) 0xBA, 0x01, 0x05, (byte) 0xEE,          // out to DONE_PORT
                (byte) 0xF4,
            });
            g.enableLapic();
            assertEquals(0, resample.drain());
            assertEquals(ExitReason.IO, g.runFiringWhenReady(trigger::signal));
            assertEquals("RL", g.serial.toString());
            assertEquals(1, resample.drain(), "the guest's EOI signalled the resamplefd (INTx unmask point)");
            reg.close();
            reg.close();
            System.out.println("irq-routing: level irqfd on GSI 5 delivered; resamplefd signalled on EOI");
        }
    }

    @Test
    void ioeventfdWithDatamatchOnlyFiresOnThatValueAndCloseDeassigns() {
        try (TinyGuest g = new TinyGuest(false); IrqRouter router = new IrqRouter(g.vm);
                EventFd notify = EventFd.create("notify")) {
            IoeventfdRegistration reg = router.ioeventfd(notify, 0x600, 2, 2L, true);
            byte[] code = {
                (byte) 0xBA, 0x00, 0x06,            // mov dx, 0x600
                (byte) 0xB8, 0x01, 0x00,            // mov ax, 1
                (byte) 0xEF,                        // out dx, ax  (no match: exits)
                (byte) 0xB8, 0x02, 0x00,            // mov ax, 2
                (byte) 0xEF,                        // out dx, ax  (match: stays in the kernel)
                (byte) 0xF4,                        // hlt
            };
            g.realMode(code);
            assertEquals(ExitReason.HLT, g.runUntilDone(100));
            assertEquals(List.of("1536:out"), g.ioExits, "only the non-matching write exits");
            assertEquals(1, notify.drain());
            reg.close();
            g.ioExits.clear();
            g.realMode(code);
            assertEquals(ExitReason.HLT, g.runUntilDone(100));
            assertEquals(List.of("1536:out", "1536:out"), g.ioExits, "after close both writes exit");
            assertEquals(0, notify.drain());
        }
    }

    @Test
    void routingAnInvalidGsiIsRefusedWithAReason() {
        try (TinyGuest g = new TinyGuest(true); IrqRouter router = new IrqRouter(g.vm)) {
            IrqRoutingException e = assertThrows(IrqRoutingException.class, () -> router.setMsiRoute(4, 0xFEE00000L, 0x30));
            assertEquals(IrqRoutingException.Reason.INVALID_GSI, e.reason());
        }
    }
}

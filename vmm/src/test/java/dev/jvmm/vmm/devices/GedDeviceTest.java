package dev.jvmm.vmm.devices;

import static dev.jvmm.vmm.devices.DeviceStates.patchInt;
import static dev.jvmm.vmm.devices.DeviceStates.refused;
import static dev.jvmm.vmm.devices.DeviceStates.restore;
import static dev.jvmm.vmm.devices.DeviceStates.save;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/** The GED event register as the DSDT's _EVT uses it: one byte read that returns the pending events and clears them. */
class GedDeviceTest {
    /** An interrupt line that records its levels and counts rising edges (what an edge-triggered IOAPIC pin sees). */
    static final class EdgeLine implements IrqLine {
        final List<Boolean> levels = new ArrayList<>();
        final Semaphore edges = new Semaphore(0);
        private final long highNanos;
        private boolean level;

        EdgeLine() {
            this(0);
        }

        /** A line that stays high a while after each raise: a notify racing with another hides its edge in it. */
        EdgeLine(long highNanos) {
            this.highNanos = highNanos;
        }

        @Override
        public void setLevel(boolean high) {
            synchronized (this) {
                levels.add(high);
                if (high && !level) {
                    edges.release();
                }
                level = high;
            }
            if (high && highNanos > 0) {
                LockSupport.parkNanos(highNanos);
            }
        }

        synchronized boolean level() {
            return level;
        }
    }

    @Test
    void notifyPulsesTheLineAndAReadReturnsAndClearsTheEvents() {
        EdgeLine line = new EdgeLine();
        GedDevice ged = new GedDevice(line);
        assertEquals(0, ged.read(0, 1));
        ged.notify(GedDevice.POWER_BUTTON);
        assertEquals(List.of(true, false), line.levels, "one edge: high, then low again");
        assertEquals(GedDevice.POWER_BUTTON, ged.pending());
        assertEquals(GedDevice.POWER_BUTTON, ged.read(0, 1));
        assertEquals(0, ged.read(0, 1), "the read cleared it");
        ged.notify(GedDevice.PCI_HOTPLUG);
        ged.notify(GedDevice.POWER_BUTTON);
        ged.notify(GedDevice.PCI_HOTPLUG);
        assertEquals(4, line.edges.availablePermits(), "an edge per notify");
        assertEquals(GedDevice.PCI_HOTPLUG | GedDevice.POWER_BUTTON, ged.read(0, 1));
        assertEquals(0, ged.pending());
        assertFalse(line.level());
    }

    @Test
    void writesAreIgnoredAndBadAccessesReadAllOnesWithoutClearing() {
        GedDevice ged = new GedDevice(new EdgeLine());
        ged.notify(GedDevice.PCI_HOTPLUG);
        ged.write(0, 1, 0xff);
        ged.write(0, 1, 0);
        assertEquals(GedDevice.PCI_HOTPLUG, ged.pending());
        assertEquals(0xffff, ged.read(0, 2));
        assertEquals(0xffff_ffffL, ged.read(0, 4));
        assertEquals(GedDevice.PCI_HOTPLUG, ged.pending(), "a bad access does not clear the events");
        assertEquals(GedDevice.PCI_HOTPLUG, ged.read(0, 1));
        assertThrows(IllegalArgumentException.class, () -> ged.notify(0));
        assertThrows(IllegalArgumentException.class, () -> ged.notify(0x100));
    }

    @Test
    void pendingEventsRoundTripAndAreRaisedAgainWithAnEdge() throws IOException {
        EdgeLine line = new EdgeLine();
        GedDevice ged = new GedDevice(line);
        ged.notify(GedDevice.PCI_HOTPLUG);
        ged.notify(GedDevice.POWER_BUTTON);
        byte[] state = save(ged);
        EdgeLine line2 = new EdgeLine();
        GedDevice r = restore(new GedDevice(line2), state);
        assertEquals(List.of(true, false), line2.levels, "one edge, so that the guest's _EVT runs");
        assertEquals(ged.read(0, 1), r.read(0, 1));
        assertEquals(0, r.read(0, 1), "the read cleared it, as on the original");
        assertEquals(ged.read(0, 1), r.read(0, 1));

        EdgeLine line3 = new EdgeLine();
        GedDevice q = restore(new GedDevice(line3), save(ged));
        assertEquals(List.of(), line3.levels, "nothing pending, no edge");
        assertEquals(0, q.pending());
    }

    @Test
    void badStateInputIsRefusedNamingTheField() throws IOException {
        GedDevice ged = new GedDevice(new EdgeLine());
        ged.notify(GedDevice.POWER_BUTTON);
        byte[] state = save(ged);
        assertEquals(12, state.length);
        DeviceStates.refusesBadInput(state, GedDevice.MAGIC, () -> new GedDevice(new EdgeLine()));
        EdgeLine line = new EdgeLine();
        GedDevice d = new GedDevice(line);
        refused(d, patchInt(state, 8, 0x100), "pending");
        refused(d, patchInt(state, 8, -1), "pending");
        assertEquals(0, d.pending(), "a refused state raises nothing");
        assertEquals(List.of(), line.levels);
    }

    /**
     * Eight threads raise their own event bit over and over while a "guest" reads the register only after each
     * rising edge, as _EVT runs: every event must be seen. A notifier waits for its event to be seen before raising
     * it again, so each read of its bit answers exactly one notify; a bit set without a later edge would hang it.
     * The line stays high a little after each raise, so that notifies overlap.
     */
    @Test
    void concurrentNotifiesAndReadsLoseNoEvent() throws Exception {
        EdgeLine line = new EdgeLine(20_000);
        GedDevice ged = new GedDevice(line);
        int bits = 8, rounds = 500;
        AtomicLongArray seen = new AtomicLongArray(bits);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread guest = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    line.edges.acquire();
                    int v = (int) ged.read(0, 1);
                    for (int b = 0; b < bits; b++) {
                        if ((v & 1 << b) != 0) {
                            seen.incrementAndGet(b);
                        }
                    }
                }
            } catch (InterruptedException e) {
                // done
            }
        }, "guest");
        guest.start();
        List<Thread> notifiers = new ArrayList<>();
        for (int b = 0; b < bits; b++) {
            int bit = b;
            Thread t = new Thread(() -> {
                try {
                    for (int i = 0; i < rounds; i++) {
                        long before = seen.get(bit);
                        ged.notify(1 << bit);
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                        while (seen.get(bit) == before) {
                            if (System.nanoTime() > deadline) {
                                throw new AssertionError("event bit " + bit + " of round " + i + " was lost");
                            }
                            Thread.onSpinWait();
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "notifier-" + b);
            notifiers.add(t);
            t.start();
        }
        for (Thread t : notifiers) {
            t.join(TimeUnit.SECONDS.toMillis(60));
            assertFalse(t.isAlive(), t.getName() + " stuck");
        }
        guest.interrupt();
        guest.join(10_000);
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        for (int b = 0; b < bits; b++) {
            assertEquals(rounds, seen.get(b), "bit " + b);
        }
        assertEquals(0, ged.pending());
        assertFalse(line.level());
        // each notify has its own edge: no notify raised the line while another held it high (that raise would be
        // no edge, and its bits could wait for the next event if the guest had read the register in between)
        assertEquals(2 * bits * rounds, line.levels.size(), "a high and a low per notify");
        for (int i = 0; i < line.levels.size(); i++) {
            assertEquals(i % 2 == 0, line.levels.get(i), "the line went high twice in a row (or low twice) at " + i);
        }
    }
}

package dev.jvmm.vfio.pci;

import dev.jvmm.core.irq.InterruptController;
import dev.jvmm.core.irq.MsiInterrupt;
import dev.jvmm.sys.EventFd;
import java.util.ArrayList;
import java.util.List;

/**
 * An interrupt controller for VFIO device tests: each MSI vector is a real eventfd (as an irqfd's would be) with its
 * route and hold recorded; a level irqfd records its trigger and resample eventfds and whether it was closed. Lets
 * a test check that what a device allocated is released, and that what it hands VFIO are its vectors' eventfds.
 */
final class FakeIrqs implements InterruptController {
    /** One MSI vector. */
    static final class Vector implements MsiInterrupt {
        final EventFd fd;
        final int gsi;
        long address = -1;
        int data;
        boolean held;
        boolean closed;

        Vector(String owner, int gsi) {
            this.fd = EventFd.create(owner);
            this.gsi = gsi;
        }

        @Override
        public EventFd eventFd() {
            return fd;
        }

        @Override
        public void route(long address, int data) {
            this.address = address;
            this.data = data;
        }

        @Override
        public void unroute() {
            address = -1;
        }

        @Override
        public void hold(boolean h) {
            held = h;
        }

        @Override
        public int gsi() {
            return gsi;
        }

        @Override
        public void close() {
            closed = true;
            fd.close();
        }
    }

    /** One level irqfd (INTx): its eventfds and whether it was deassigned. */
    static final class Level implements AutoCloseable {
        final EventFd trigger;
        final EventFd resample;
        final int gsi;
        boolean closed;

        Level(EventFd trigger, int gsi, EventFd resample) {
            this.trigger = trigger;
            this.gsi = gsi;
            this.resample = resample;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    final List<Vector> vectors = new ArrayList<>();
    final List<Level> levels = new ArrayList<>();

    @Override
    public MsiInterrupt allocateMsi(String owner) {
        Vector v = new Vector(owner, 24 + vectors.size());
        vectors.add(v);
        return v;
    }

    @Override
    public void setIrqLine(int gsi, boolean high) {
        throw new AssertionError("a VFIO function drives no irqchip line from Java (GSI " + gsi + ")");
    }

    @Override
    public AutoCloseable levelIrqfd(EventFd trigger, int gsi, EventFd resample) {
        Level l = new Level(trigger, gsi, resample);
        levels.add(l);
        return l;
    }

    /** Whether {@code fd} is the eventfd of a live vector or a live level irqfd's trigger. */
    boolean isLiveEventFd(int fd) {
        for (Vector v : vectors) {
            if (!v.closed && v.fd.isOpen() && v.fd.fd() == fd) {
                return true;
            }
        }
        for (Level l : levels) {
            if (!l.closed && (l.trigger.isOpen() && l.trigger.fd() == fd || l.resample.isOpen() && l.resample.fd() == fd)) {
                return true;
            }
        }
        return false;
    }
}

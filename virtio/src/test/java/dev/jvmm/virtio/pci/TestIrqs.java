package dev.jvmm.virtio.pci;

import dev.jvmm.core.irq.InterruptController;
import dev.jvmm.core.irq.MsiInterrupt;
import dev.jvmm.sys.EventFd;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An interrupt controller for in-process device tests: each MSI vector is a real eventfd (as an irqfd would
 * be) whose routes are recorded, so a test can wait for an interrupt the device really sent.
 */
public final class TestIrqs implements InterruptController, AutoCloseable {
    public final class Vector implements MsiInterrupt {
        final EventFd fd;
        final String owner;
        public volatile long address = -1;
        public volatile int data;

        Vector(String owner) {
            this.owner = owner;
            this.fd = EventFd.create(owner);
        }

        public EventFd eventFd() {
            return fd;
        }

        public void route(long address, int data) {
            this.address = address;
            this.data = data;
        }

        public void unroute() {
            address = -1;
        }

        /** Whether the table holds this vector (a device-signalled table while the vector is masked). */
        public volatile boolean held;

        @Override
        public void hold(boolean h) {
            held = h;
        }

        public int gsi() {
            return 24 + vectors.indexOf(this);
        }

        public void close() {
            fd.close();
        }

        /** Waits (generously) for the interrupt and consumes it; returns whether it came. */
        public boolean await() {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                if (fd.drain() > 0) {
                    return true;
                }
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            return false;
        }

        public long drain() {
            return fd.drain();
        }
    }

    public final List<Vector> vectors = new ArrayList<>();
    public final List<String> lines = new ArrayList<>();

    @Override
    public synchronized MsiInterrupt allocateMsi(String owner) {
        Vector v = new Vector(owner);
        vectors.add(v);
        return v;
    }

    @Override
    public synchronized void setIrqLine(int gsi, boolean high) {
        lines.add(gsi + "=" + (high ? 1 : 0));
    }

    @Override
    public void close() {
        vectors.forEach(Vector::close);
    }
}

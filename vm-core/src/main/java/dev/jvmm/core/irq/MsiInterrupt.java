package dev.jvmm.core.irq;

import dev.jvmm.sys.EventFd;

/**
 * One MSI/MSI-X vector as a device model sees it: an eventfd that injects the interrupt in the kernel
 * (an irqfd) and a route that follows what the guest programmed into the vector's address and data.
 * Signalling the eventfd never passes through the VMM's Java code on the way to the guest.
 */
public interface MsiInterrupt extends AutoCloseable {
    /** The eventfd whose signal injects this vector (KVM irqfd). */
    EventFd eventFd();

    /** Points the vector at the guest-programmed MSI {@code address}/{@code data}. */
    void route(long address, int data);

    /** Removes the route: a signal is then dropped by KVM (used while the guest has the vector disabled). */
    void unroute();

    /** The GSI backing this vector. */
    int gsi();

    /** Injects the interrupt (signals {@link #eventFd()}). */
    default void trigger() {
        eventFd().signal();
    }

    @Override
    void close();
}

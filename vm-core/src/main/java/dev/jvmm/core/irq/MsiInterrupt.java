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

    /**
     * Detaches ({@code true}) or re-attaches ({@code false}) the eventfd from KVM. While held, signals collect in
     * the eventfd and nothing reaches the guest; re-attaching delivers one that came meanwhile (KVM looks at the
     * eventfd when an irqfd is assigned). For a masked vector whose eventfd a device signals directly (VFIO).
     */
    default void hold(boolean held) {
        throw new UnsupportedOperationException("this interrupt cannot be held");
    }

    /** While held: whether the device signalled (the vector's pending bit). Sticky until the hold ends. */
    default boolean heldSignal() {
        return false;
    }

    /** The GSI backing this vector. */
    int gsi();

    /** Injects the interrupt (signals {@link #eventFd()}). */
    default void trigger() {
        eventFd().signal();
    }

    @Override
    void close();
}

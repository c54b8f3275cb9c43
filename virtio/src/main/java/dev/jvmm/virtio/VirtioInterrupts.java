package dev.jvmm.virtio;

/** What a device model may ask of its transport: interrupts and the NEEDS_RESET state. Callable from device threads. */
public interface VirtioInterrupts {
    /** Raises queue {@code queue}'s interrupt (its MSI-X vector, or INTx with ISR bit 0). */
    void signalQueue(int queue);

    /** Raises the configuration-change interrupt (ISR bit 1). */
    void signalConfig();

    /**
     * The driver broke the protocol: sets DEVICE_STATUS NEEDS_RESET and raises a configuration-change interrupt
     * (virtio 1.2 §2.1.2). The device stops processing until the driver resets it.
     */
    void needsReset(String why);

    /**
     * An eventfd whose signal raises queue {@code queue}'s interrupt without the VMM's code (its MSI-X vector's
     * irqfd, held by the transport while the vector is masked, so that a signal then waits as the pending bit), for
     * a device served in the kernel (vhost). Null when there is none: MSI-X disabled, no vector for the queue, or a
     * device that did not ask for it ({@link VirtioDevice#signalsFromKernel()}); the device then relays the
     * interrupt through {@link #signalQueue}.
     */
    default dev.jvmm.sys.EventFd queueEventFd(int queue) {
        return null;
    }
}

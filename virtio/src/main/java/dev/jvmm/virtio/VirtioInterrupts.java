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
}

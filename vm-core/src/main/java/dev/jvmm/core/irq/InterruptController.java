package dev.jvmm.core.irq;

/** The VMM's interrupt plumbing as device models see it; implemented by irq-routing. */
public interface InterruptController {
    /** A fresh MSI vector owned by {@code owner} (for logs), backed by its own GSI and irqfd. */
    MsiInterrupt allocateMsi(String owner);

    /** Drives a legacy irqchip line (INTx, the UART's IRQ 4). */
    void setIrqLine(int gsi, boolean high);

    /**
     * A level-triggered irqfd on irqchip pin {@code gsi}: a signal of {@code trigger} raises the line; when the guest
     * ends the interrupt (EOI), KVM lowers it and signals {@code resample}. For a passed-through INTx (VFIO's
     * trigger and unmask eventfds), so the interrupt never passes through the VMM. Closing it deassigns the irqfd.
     */
    default AutoCloseable levelIrqfd(dev.jvmm.sys.EventFd trigger, int gsi, dev.jvmm.sys.EventFd resample) {
        throw new UnsupportedOperationException("this interrupt controller has no irqfds");
    }
}

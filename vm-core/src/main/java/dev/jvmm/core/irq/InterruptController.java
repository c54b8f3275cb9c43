package dev.jvmm.core.irq;

/** The VMM's interrupt plumbing as device models see it; implemented by irq-routing. */
public interface InterruptController {
    /** A fresh MSI vector owned by {@code owner} (for logs), backed by its own GSI and irqfd. */
    MsiInterrupt allocateMsi(String owner);

    /** Drives a legacy irqchip line (INTx, the UART's IRQ 4). */
    void setIrqLine(int gsi, boolean high);
}

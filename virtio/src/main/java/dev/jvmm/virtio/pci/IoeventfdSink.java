package dev.jvmm.virtio.pci;

import dev.jvmm.sys.EventFd;

/**
 * Registers a guest MMIO doorbell so that a write at {@code address} signals {@code eventFd} in the kernel
 * (KVM_IOEVENTFD) without leaving the vCPU thread's KVM_RUN. Implemented by the VMM with irq-routing;
 * {@code len} 0 matches any access size (KVM's fast MMIO path).
 */
@FunctionalInterface
public interface IoeventfdSink {
    AutoCloseable register(EventFd eventFd, long address, int len);
}

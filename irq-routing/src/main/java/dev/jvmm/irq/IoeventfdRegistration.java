package dev.jvmm.irq;

import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.kvm.VmFd;
import dev.jvmm.sys.kvm.uapi.KvmConstants;

/**
 * A KVM_IOEVENTFD registration: a guest write of {@code len} bytes at {@code addr} (MMIO, or a port with
 * {@code pio}) signals the eventfd inside the kernel, with no exit to the VMM. With a datamatch only writes
 * of that value match (virtio-pci notify: the queue index). {@link #close()} deassigns it with the same
 * parameters, once.
 */
public final class IoeventfdRegistration implements AutoCloseable {
    private final VmFd vm;
    private final EventFd eventFd;
    private final long addr;
    private final int len;
    private final long datamatch;
    private final int flags;
    private boolean open = true;

    private IoeventfdRegistration(VmFd vm, EventFd eventFd, long addr, int len, long datamatch, int flags) {
        this.vm = vm;
        this.eventFd = eventFd;
        this.addr = addr;
        this.len = len;
        this.datamatch = datamatch;
        this.flags = flags;
    }

    /**
     * Assigns an ioeventfd. {@code datamatch} null matches any value; {@code len} 0 matches any access
     * width (MMIO only).
     */
    public static IoeventfdRegistration assign(VmFd vm, EventFd eventFd, long addr, int len, Long datamatch, boolean pio) {
        int flags = (pio ? KvmConstants.KVM_IOEVENTFD_FLAG_PIO : 0)
                | (datamatch != null ? KvmConstants.KVM_IOEVENTFD_FLAG_DATAMATCH : 0);
        long dm = datamatch != null ? datamatch : 0;
        vm.ioeventfd(dm, addr, len, eventFd.fd(), flags);
        return new IoeventfdRegistration(vm, eventFd, addr, len, dm, flags);
    }

    public long address() {
        return addr;
    }

    public EventFd eventFd() {
        return eventFd;
    }

    @Override
    public synchronized void close() {
        if (open) {
            open = false;
            if (eventFd.isOpen()) {
                vm.ioeventfd(datamatch, addr, len, eventFd.fd(), flags | KvmConstants.KVM_IOEVENTFD_FLAG_DEASSIGN);
            }
        }
    }
}

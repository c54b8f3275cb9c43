package dev.jvmm.irq;

import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.kvm.VmFd;
import dev.jvmm.sys.kvm.uapi.KvmConstants;

/**
 * An eventfd assigned to a GSI with KVM_IRQFD, optionally with a resamplefd (KVM_IRQFD_FLAG_RESAMPLE:
 * level-triggered INTx, where KVM signals the resamplefd on the guest's EOI so VFIO can unmask).
 * {@link #close()} deassigns it, once; the eventfds stay owned by the caller.
 */
public final class IrqfdRegistration implements AutoCloseable {
    private final VmFd vm;
    private final EventFd trigger;
    private final int gsi;
    private boolean open = true;

    private IrqfdRegistration(VmFd vm, EventFd trigger, int gsi) {
        this.vm = vm;
        this.trigger = trigger;
        this.gsi = gsi;
    }

    /** KVM_IRQFD assign; {@code resample} may be null (edge / MSI). */
    public static IrqfdRegistration assign(VmFd vm, EventFd trigger, int gsi, EventFd resample) {
        int flags = resample != null ? KvmConstants.KVM_IRQFD_FLAG_RESAMPLE : 0;
        vm.irqfd(trigger.fd(), gsi, flags, resample != null ? resample.fd() : 0);
        return new IrqfdRegistration(vm, trigger, gsi);
    }

    public int gsi() {
        return gsi;
    }

    public EventFd trigger() {
        return trigger;
    }

    @Override
    public synchronized void close() {
        if (open) {
            open = false;
            if (trigger.isOpen()) {
                vm.irqfd(trigger.fd(), gsi, KvmConstants.KVM_IRQFD_FLAG_DEASSIGN, 0);
            }
        }
    }
}

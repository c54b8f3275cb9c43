package dev.jvmm.irq;

import dev.jvmm.core.irq.InterruptController;
import dev.jvmm.core.irq.MsiInterrupt;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.EventFd;
import dev.jvmm.sys.kvm.VmFd;
import dev.jvmm.sys.kvm.VmFd.RoutingEntry;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * Owner of the VM's single KVM_SET_GSI_ROUTING table. KVM_SET_GSI_ROUTING replaces the whole table, so
 * the router keeps every route — the irqchip's legacy lines (GSI 0–15 to the PIC and the IOAPIC, 16–23 to
 * the IOAPIC, as KVM_CREATE_IRQCHIP sets them up) and every MSI route — and commits them all on each change.
 * MSI vectors get GSIs from 24 up.
 */
public final class IrqRouter implements InterruptController, AutoCloseable {
    /** GSIs 0–23 are the in-kernel irqchip's pins. */
    public static final int FIRST_MSI_GSI = 24;
    /** KVM_MAX_IRQ_ROUTES. */
    public static final int MAX_ROUTES = 4096;

    private final VmFd vm;
    private final GsiAllocator gsis;
    private final List<RoutingEntry> legacy = new ArrayList<>();
    private final TreeMap<Integer, RoutingEntry> msi = new TreeMap<>();
    private final List<AutoCloseable> owned = new ArrayList<>();
    private int deferred;
    private boolean changed;

    /** For a VM with the in-kernel irqchip (KVM_CREATE_IRQCHIP already done). */
    public IrqRouter(VmFd vm) {
        this.vm = vm;
        this.gsis = new GsiAllocator(FIRST_MSI_GSI, MAX_ROUTES);
        for (int pin = 0; pin < 24; pin++) {
            if (pin < 16 && pin != 2) {
                // PIC: master for 0-7, slave for 8-15 (pin is relative to the chip); IRQ 2 is the cascade
                legacy.add(RoutingEntry.irqchip(pin, pin < 8 ? KvmConstants.KVM_IRQCHIP_PIC_MASTER
                        : KvmConstants.KVM_IRQCHIP_PIC_SLAVE, pin % 8));
            }
            // IOAPIC: ISA IRQ 0 (the PIT) arrives on pin 2
            legacy.add(RoutingEntry.irqchip(pin, KvmConstants.KVM_IRQCHIP_IOAPIC, pin == 0 ? 2 : pin));
        }
    }

    public VmFd vm() {
        return vm;
    }

    public GsiAllocator gsis() {
        return gsis;
    }

    /**
     * Holds every commit until {@link #commitDeferred()}: the routes set and removed meanwhile reach KVM in one
     * KVM_SET_GSI_ROUTING (each commit costs KVM an SRCU grace period; a restore sets all of a VM's vectors at once).
     * Nests.
     */
    public synchronized void deferCommits() {
        deferred++;
    }

    /** Ends a {@link #deferCommits()}; the outermost commits the table if a route changed meanwhile. */
    public synchronized void commitDeferred() {
        if (deferred == 0) {
            throw new IllegalStateException("commitDeferred without deferCommits");
        }
        if (--deferred == 0 && changed) {
            changed = false;
            commit();
        }
    }

    /** Adds or replaces the MSI route of {@code gsi} and commits the table (or marks it to be, while deferred). */
    public synchronized void setMsiRoute(int gsi, long address, int data) {
        checkMsiGsi(gsi);
        RoutingEntry old = msi.put(gsi, RoutingEntry.msi(gsi, address, data));
        if (deferred > 0) {
            changed = true;
            return;
        }
        try {
            commit();
        } catch (RuntimeException e) {
            if (old != null) {
                msi.put(gsi, old);
            } else {
                msi.remove(gsi);
            }
            throw e;
        }
    }

    /** Removes the MSI route of {@code gsi} (if any) and commits the table. */
    public synchronized void removeMsiRoute(int gsi) {
        checkMsiGsi(gsi);
        if (msi.remove(gsi) != null) {
            if (deferred > 0) {
                changed = true;
            } else {
                commit();
            }
        }
    }

    private void checkMsiGsi(int gsi) {
        if (gsi < FIRST_MSI_GSI || gsi >= MAX_ROUTES) {
            throw new IrqRoutingException(IrqRoutingException.Reason.INVALID_GSI,
                    "GSI " + gsi + " is not an MSI GSI (" + FIRST_MSI_GSI + ".." + (MAX_ROUTES - 1) + ")");
        }
    }

    /** The routes as they will be (or were last) committed. */
    public synchronized List<RoutingEntry> table() {
        List<RoutingEntry> all = new ArrayList<>(legacy);
        all.addAll(msi.values());
        return all;
    }

    private void commit() {
        try {
            vm.setGsiRouting(table());
        } catch (ErrnoException e) {
            throw new IrqRoutingException(IrqRoutingException.Reason.KERNEL,
                    "KVM refused the GSI routing table (" + msi.size() + " MSI routes)", e);
        }
    }

    /** Assigns an irqfd; see {@link IrqfdRegistration}. */
    public IrqfdRegistration irqfd(EventFd trigger, int gsi, EventFd resample) {
        try {
            return IrqfdRegistration.assign(vm, trigger, gsi, resample);
        } catch (ErrnoException e) {
            throw new IrqRoutingException(IrqRoutingException.Reason.KERNEL, "irqfd for GSI " + gsi + ": " + e.getMessage(), e);
        }
    }

    /** Assigns an ioeventfd; see {@link IoeventfdRegistration}. */
    public IoeventfdRegistration ioeventfd(EventFd eventFd, long addr, int len, Long datamatch, boolean pio) {
        try {
            return IoeventfdRegistration.assign(vm, eventFd, addr, len, datamatch, pio);
        } catch (ErrnoException e) {
            throw new IrqRoutingException(IrqRoutingException.Reason.KERNEL,
                    String.format("ioeventfd at %s 0x%x", pio ? "port" : "MMIO", addr), e);
        }
    }

    @Override
    public MsiInterrupt allocateMsi(String owner) {
        int gsi = gsis.allocate();
        EventFd efd = null;
        try {
            efd = EventFd.create(owner + "-gsi" + gsi);
            IrqfdRegistration reg = irqfd(efd, gsi, null);
            return new Vector(gsi, efd, reg);
        } catch (RuntimeException e) {
            if (efd != null) {
                efd.close();
            }
            gsis.free(gsi);
            throw e;
        }
    }

    @Override
    public IrqfdRegistration levelIrqfd(EventFd trigger, int gsi, EventFd resample) {
        return irqfd(trigger, gsi, resample);
    }

    @Override
    public void setIrqLine(int gsi, boolean high) {
        vm.irqLine(gsi, high ? 1 : 0);
    }

    /** An MSI vector: GSI, eventfd and irqfd, with its route kept in this router's table. */
    private final class Vector implements MsiInterrupt {
        private final int gsi;
        private final EventFd efd;
        /** Null while held. */
        private IrqfdRegistration reg;
        private boolean open = true;
        private boolean heldSignal;

        Vector(int gsi, EventFd efd, IrqfdRegistration reg) {
            this.gsi = gsi;
            this.efd = efd;
            this.reg = reg;
        }

        @Override
        public EventFd eventFd() {
            return efd;
        }

        @Override
        public void route(long address, int data) {
            setMsiRoute(gsi, address, data);
        }

        @Override
        public void unroute() {
            removeMsiRoute(gsi);
        }

        @Override
        public synchronized void hold(boolean held) {
            if (!open || held == (reg == null)) {
                return;
            }
            if (held) {
                reg.close(); // KVM_IRQFD with DEASSIGN: the eventfd stays, signals now wait in its counter
                reg = null;
                return;
            }
            if (heldSignal) {
                efd.signal(); // drained by heldSignal(): put it back for KVM to see
                heldSignal = false;
            }
            reg = irqfd(efd, gsi, null); // assigning an irqfd whose eventfd is signalled injects at once
        }

        @Override
        public synchronized boolean heldSignal() {
            if (reg == null && efd.drain() > 0) {
                heldSignal = true;
            }
            return heldSignal;
        }

        @Override
        public int gsi() {
            return gsi;
        }

        /** Close order: deassign the irqfd, drop the route, then close the eventfd and free the GSI. */
        @Override
        public synchronized void close() {
            if (!open) {
                return;
            }
            open = false;
            try {
                if (reg != null) {
                    reg.close();
                }
                synchronized (IrqRouter.this) {
                    if (msi.remove(gsi) != null) {
                        commit();
                    }
                }
            } finally {
                efd.close();
                gsis.free(gsi);
            }
        }
    }

    /** Takes ownership of a registration so that {@link #close()} releases it. */
    public synchronized <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    @Override
    public synchronized void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception ignored) {
                // closing continues; the VM fd is about to go away with every registration
            }
        }
        owned.clear();
    }
}

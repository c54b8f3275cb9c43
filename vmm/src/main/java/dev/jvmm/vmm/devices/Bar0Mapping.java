package dev.jvmm.vmm.devices;

import dev.jvmm.core.Bus;
import dev.jvmm.core.BusDevice;
import dev.jvmm.core.VmCoreException;
import dev.jvmm.core.pci.BarListener;
import dev.jvmm.core.pci.PciBar;
import dev.jvmm.core.pci.PciFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A virtio function's BAR0 on the VM's MMIO bus, following the guest as it programs the BAR. It remembers what it
 * registered, so that a move, or {@link #close}, takes off the bus only its own range: a BAR0 the guest places over
 * another device's range is refused by the bus (the guest's conflict, as on real hardware it would decode badly), is
 * not reachable there, and the next move takes nothing of the other device with it. A guest's BAR write never throws.
 */
final class Bar0Mapping implements BarListener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Bar0Mapping.class);
    private final Bus mmio;
    private final long size;
    private final BusDevice bar0;
    private final String name;
    private long registered = -1;

    Bar0Mapping(Bus mmio, long size, BusDevice bar0, String name) {
        this.mmio = mmio;
        this.size = size;
        this.bar0 = bar0;
        this.name = name;
    }

    /** Where BAR0 is on the bus now; -1 when it is not (not decoded, or refused where the guest put it). */
    synchronized long registered() {
        return registered;
    }

    @Override
    public synchronized void barMoved(PciFunction f, PciBar b, long oldAddress, long newAddress) {
        if (b.index() != 0) {
            return;
        }
        release();
        if (newAddress >= 0) {
            try {
                mmio.register(newAddress, size, bar0, name + "-bar0");
                registered = newAddress;
            } catch (VmCoreException e) {
                if (e.reason() != VmCoreException.Reason.OVERLAP) {
                    throw e;
                }
                log.warn("{}: the guest placed BAR0 at 0x{}, over another range; it is not reachable there until the "
                        + "guest moves it: {}", name, Long.toHexString(newAddress), e.getMessage());
            }
        }
        log.debug("{}: BAR0 0x{} -> 0x{}", name, Long.toHexString(oldAddress), Long.toHexString(newAddress));
    }

    private void release() {
        if (registered >= 0) {
            mmio.unregister(registered);
            registered = -1;
        }
    }

    /** Takes BAR0 off the bus, if it is there. */
    @Override
    public synchronized void close() {
        release();
    }
}

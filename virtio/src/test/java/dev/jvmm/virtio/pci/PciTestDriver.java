package dev.jvmm.virtio.pci;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.PciConfigSpace;
import dev.jvmm.virtio.TestDriver;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.util.ArrayList;
import java.util.List;

/**
 * Drives a {@link VirtioPciDevice} the way the Linux virtio-pci driver does, through config space and BAR0
 * accesses only: places BAR0, enables MSI-X with one vector per queue, negotiates features, sets up queues
 * with {@link TestDriver} rings in guest memory and sets DRIVER_OK.
 */
public final class PciTestDriver {
    public static final long BAR = 0xe000_0000L;
    public final VirtioPciDevice dev;
    public final GuestMemory mem;
    public final List<TestDriver> rings = new ArrayList<>();
    private final long ringBase;

    public PciTestDriver(VirtioPciDevice dev, GuestMemory mem, long ringBase) {
        this.dev = dev;
        this.mem = mem;
        this.ringBase = ringBase;
        dev.setBarAddress(0, BAR);
        dev.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
    }

    public long read(long off, int size) {
        return dev.bar0().read(off, size);
    }

    public void write(long off, int size, long v) {
        dev.bar0().write(off, size, v);
    }

    public int status() {
        return (int) read(CommonCfg.DEVICE_STATUS, 1);
    }

    public long deviceFeatures() {
        return DriverSteps.deviceFeatures(dev);
    }

    /** Enables MSI-X and programs vector v with data 0x30 + v, unmasked. */
    public void enableMsix() {
        DriverSteps.enableMsix(dev);
    }

    /**
     * Full initialisation ({@link DriverSteps#init}) accepting {@code features} ∩ offered, with {@code queues} queues
     * of {@code size} in fresh {@link TestDriver} rings; queue i uses MSI-X vector i, config changes the last vector.
     * Returns the status read back.
     */
    public int init(long features, int queues, int size) {
        rings.clear();
        return DriverSteps.init(dev, features, queues, size, q -> {
            mem.write(ringBase + 0x10000L * q, new byte[0x10000], 0, 0x10000); // fresh rings, as a driver allocates
            TestDriver t = new TestDriver(mem, size, ringBase + 0x10000L * q);
            rings.add(t);
            return new long[] {t.desc, t.avail, t.used};
        });
    }

    /** Kicks queue q through its notify address (as the guest's iowrite16 would land without an ioeventfd). */
    public void kick(int q) {
        int off = (int) read(CommonCfg.QUEUE_NOTIFY_OFF, 2);
        write(CommonCfg.QUEUE_SELECT, 2, q);
        off = (int) read(CommonCfg.QUEUE_NOTIFY_OFF, 2);
        write(VirtioPciDevice.NOTIFY_OFFSET + (long) VirtioPciDevice.NOTIFY_OFF_MULTIPLIER * off, 2, q);
    }

    /** Waits (up to 30 s) until queue q's used index reaches (or passes) {@code idx}. */
    public boolean awaitUsed(int q, int idx) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            if ((short) (rings.get(q).usedIdx() - idx) >= 0) {
                return true;
            }
            Thread.onSpinWait();
        }
        return false;
    }
}

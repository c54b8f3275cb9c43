package dev.jvmm.virtio.pci;

import static dev.jvmm.virtio.VirtioConstants.*;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.core.pci.MsixCapability;
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
        write(CommonCfg.DEVICE_FEATURE_SELECT, 4, 0);
        long lo = read(CommonCfg.DEVICE_FEATURE, 4);
        write(CommonCfg.DEVICE_FEATURE_SELECT, 4, 1);
        return lo | read(CommonCfg.DEVICE_FEATURE, 4) << 32;
    }

    /** Enables MSI-X and programs vector v with data v, unmasked. */
    public void enableMsix() {
        int cap = dev.config().findCapabilities(MsixCapability.CAP_ID)[0];
        dev.configWrite(cap + 2, 2, MsixCapability.CONTROL_ENABLE);
        for (int v = 0; v < dev.msix().vectors(); v++) {
            long e = VirtioPciDevice.MSIX_TABLE_OFFSET + 16L * v;
            write(e, 4, 0xfee0_0000L);
            write(e + 4, 4, 0);
            write(e + 8, 4, 0x30 + v);
            write(e + 12, 4, 0);
        }
    }

    /**
     * Full initialisation (virtio 1.2 §3.1.1) accepting {@code features} ∩ offered, with {@code queues} queues of
     * {@code size}; queue i uses MSI-X vector i, config changes the last vector. Returns the status read back.
     */
    public int init(long features, int queues, int size) {
        write(CommonCfg.DEVICE_STATUS, 1, 0);
        enableMsix();
        write(CommonCfg.DEVICE_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
        write(CommonCfg.DEVICE_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
        long f = features & deviceFeatures();
        write(CommonCfg.DRIVER_FEATURE_SELECT, 4, 0);
        write(CommonCfg.DRIVER_FEATURE, 4, f & 0xffff_ffffL);
        write(CommonCfg.DRIVER_FEATURE_SELECT, 4, 1);
        write(CommonCfg.DRIVER_FEATURE, 4, f >>> 32);
        int s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
        write(CommonCfg.DEVICE_STATUS, 1, s);
        if ((status() & VIRTIO_CONFIG_S_FEATURES_OK) == 0) {
            return status();
        }
        write(CommonCfg.MSIX_CONFIG, 2, dev.msix().vectors() - 1);
        rings.clear();
        for (int q = 0; q < queues; q++) {
            mem.write(ringBase + 0x10000L * q, new byte[0x10000], 0, 0x10000); // fresh rings, as a driver allocates
            TestDriver t = new TestDriver(mem, size, ringBase + 0x10000L * q);
            rings.add(t);
            write(CommonCfg.QUEUE_SELECT, 2, q);
            write(CommonCfg.QUEUE_SIZE, 2, size);
            write(CommonCfg.QUEUE_MSIX_VECTOR, 2, q);
            write(CommonCfg.QUEUE_DESC, 8, t.desc);
            write(CommonCfg.QUEUE_DRIVER, 4, t.avail & 0xffff_ffffL);
            write(CommonCfg.QUEUE_DRIVER + 4, 4, t.avail >>> 32);
            write(CommonCfg.QUEUE_DEVICE, 8, t.used);
            write(CommonCfg.QUEUE_ENABLE, 2, 1);
        }
        write(CommonCfg.DEVICE_STATUS, 1, s | VIRTIO_CONFIG_S_DRIVER_OK);
        return status();
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

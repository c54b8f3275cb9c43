package dev.jvmm.virtio.pci;

import static dev.jvmm.virtio.VirtioConstants.*;

import dev.jvmm.core.pci.MsixCapability;
import dev.jvmm.virtio.pci.VirtioPciLayout.CommonCfg;
import java.util.function.IntFunction;

/**
 * What the Linux virtio-pci driver does to bring a {@link VirtioPciDevice} up (virtio 1.2 §3.1.1), through config
 * space and BAR0 accesses only: MSI-X enabled with one vector per queue, features negotiated, queues placed, then
 * DRIVER_OK. Unit tests drive devices with it, and a migration's destination uses it to run a scratch device's
 * activation once before it waits for the source (VmBuilder's warm-up). The device's BAR0 must be placed and memory
 * decoding enabled by whoever plugged it.
 */
public final class DriverSteps {
    private DriverSteps() {
    }

    /** Where queue i's rings are: {desc, avail, used} guest addresses. */
    public interface Rings extends IntFunction<long[]> {
    }

    /** The 64 feature bits the device offers. */
    public static long deviceFeatures(VirtioPciDevice dev) {
        dev.bar0().write(CommonCfg.DEVICE_FEATURE_SELECT, 4, 0);
        long lo = dev.bar0().read(CommonCfg.DEVICE_FEATURE, 4);
        dev.bar0().write(CommonCfg.DEVICE_FEATURE_SELECT, 4, 1);
        return lo | dev.bar0().read(CommonCfg.DEVICE_FEATURE, 4) << 32;
    }

    /** Enables MSI-X and programs vector v (to the LAPIC at 0xfee00000) with data {@code 0x30 + v}, unmasked. */
    public static void enableMsix(VirtioPciDevice dev) {
        int cap = dev.config().findCapabilities(MsixCapability.CAP_ID)[0];
        dev.configWrite(cap + 2, 2, MsixCapability.CONTROL_ENABLE);
        for (int v = 0; v < dev.msix().vectors(); v++) {
            long e = VirtioPciDevice.MSIX_TABLE_OFFSET + 16L * v;
            dev.bar0().write(e, 4, 0xfee0_0000L);
            dev.bar0().write(e + 4, 4, 0);
            dev.bar0().write(e + 8, 4, 0x30 + v);
            dev.bar0().write(e + 12, 4, 0);
        }
    }

    /**
     * The whole initialisation: a reset, MSI-X, {@code features} ∩ offered, {@code queues} queues of {@code size} at
     * {@code rings} (queue i on MSI-X vector i, config changes on the last vector), DRIVER_OK. Returns the status read
     * back (without FEATURES_OK when the device refused the features; no queue is set up then).
     */
    public static int init(VirtioPciDevice dev, long features, int queues, int size, Rings rings) {
        var bar = dev.bar0();
        bar.write(CommonCfg.DEVICE_STATUS, 1, 0);
        enableMsix(dev);
        bar.write(CommonCfg.DEVICE_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
        bar.write(CommonCfg.DEVICE_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
        long f = features & deviceFeatures(dev);
        bar.write(CommonCfg.DRIVER_FEATURE_SELECT, 4, 0);
        bar.write(CommonCfg.DRIVER_FEATURE, 4, f & 0xffff_ffffL);
        bar.write(CommonCfg.DRIVER_FEATURE_SELECT, 4, 1);
        bar.write(CommonCfg.DRIVER_FEATURE, 4, f >>> 32);
        int s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
        bar.write(CommonCfg.DEVICE_STATUS, 1, s);
        if ((bar.read(CommonCfg.DEVICE_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK) == 0) {
            return (int) bar.read(CommonCfg.DEVICE_STATUS, 1);
        }
        bar.write(CommonCfg.MSIX_CONFIG, 2, dev.msix().vectors() - 1);
        for (int q = 0; q < queues; q++) {
            long[] r = rings.apply(q);
            bar.write(CommonCfg.QUEUE_SELECT, 2, q);
            bar.write(CommonCfg.QUEUE_SIZE, 2, size);
            bar.write(CommonCfg.QUEUE_MSIX_VECTOR, 2, q);
            bar.write(CommonCfg.QUEUE_DESC, 8, r[0]);
            bar.write(CommonCfg.QUEUE_DRIVER, 4, r[1] & 0xffff_ffffL);
            bar.write(CommonCfg.QUEUE_DRIVER + 4, 4, r[1] >>> 32);
            bar.write(CommonCfg.QUEUE_DEVICE, 8, r[2]);
            bar.write(CommonCfg.QUEUE_ENABLE, 2, 1);
        }
        bar.write(CommonCfg.DEVICE_STATUS, 1, s | VIRTIO_CONFIG_S_DRIVER_OK);
        return (int) bar.read(CommonCfg.DEVICE_STATUS, 1);
    }
}

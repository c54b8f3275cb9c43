package dev.jvmm.sys.pci;

import static dev.jvmm.sys.pci.PciException.Reason.DRIVER;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Binds PCI functions to a driver with {@code driver_override} + {@code drivers_probe} (never {@code new_id}, which
 * would grab every device with the same ID), unbinds them and gives them back to the host driver. Every bind
 * returns the {@link Binding} that was there before so the caller can put it back with {@link #restore}.
 */
public final class DriverBinder {
    private static final Logger LOG = LoggerFactory.getLogger(DriverBinder.class);
    /** The VFIO PCI driver. */
    public static final String VFIO_PCI = "vfio-pci";
    private final Sysfs sysfs;
    private final PciDevices devices;
    private final boolean modprobe;

    /** A device's binding: the bound driver (null if none) and {@code driver_override} (null if unset). */
    public record Binding(String driver, String override) {
    }

    /** @param modprobe whether a driver that is not loaded may be loaded with modprobe(8) */
    public DriverBinder(Sysfs sysfs, boolean modprobe) {
        this.sysfs = sysfs;
        this.devices = new PciDevices(sysfs);
        this.modprobe = modprobe;
    }

    public Binding binding(PciAddress a) {
        return new Binding(devices.driver(a), devices.driverOverride(a));
    }

    /**
     * Binds {@code a} to {@code driver}: set {@code driver_override}, unbind the current driver, {@code drivers_probe},
     * then check the {@code driver} link. A no-op when already bound to it. The override stays set, so the device
     * is not taken back by the host driver on a later probe. On failure the previous binding is restored. vfio-pci
     * is refused before anything changes when the device has no IOMMU group.
     */
    public Binding bind(PciAddress a, String driver) {
        Path d = devices.require(a);
        Binding before = binding(a);
        if (driver.equals(before.driver()) && driver.equals(before.override())) {
            return before;
        }
        if (driver.equals(VFIO_PCI) && !Files.exists(d.resolve("iommu_group"))) {
            throw new PciException(PciException.Reason.NO_IOMMU_GROUP, a + " has no IOMMU group, so vfio-pci cannot"
                    + " take it: enable the IOMMU (intel_iommu=on or amd_iommu=on on the kernel command line, VT-d/AMD-Vi"
                    + " in the firmware)");
        }
        ensureLoaded(driver);
        try {
            sysfs.write(d.resolve("driver_override"), driver);
            if (before.driver() != null && !before.driver().equals(driver)) {
                unbindNow(a, before.driver());
            }
            if (!driver.equals(sysfs.linkName(d.resolve("driver")))) {
                sysfs.write(sysfs.driversProbe(), a.toString());
            }
        } catch (ErrnoException | PciException e) {
            restoreQuietly(a, before, e);
            throw new PciException(DRIVER, "binding " + a + " to " + driver + " failed"
                    + (e instanceof ErrnoException ee && ee.errno() == Errno.ENODEV ? " (ENODEV: is the IOMMU enabled?)" : ""), e);
        }
        String now = sysfs.linkName(d.resolve("driver"));
        if (!driver.equals(now)) {
            PciException e = new PciException(DRIVER, driver + " did not bind " + a + " (driver now: "
                    + (now == null ? "none" : now) + "); see the kernel log (dmesg) for the probe error");
            restoreQuietly(a, before, e);
            throw e;
        }
        LOG.info("{}: bound to {} (was {})", a, driver, before.driver() == null ? "unbound" : before.driver());
        return before;
    }

    private void restoreQuietly(PciAddress a, Binding before, Exception cause) {
        try {
            restore(a, before);
        } catch (RuntimeException r) {
            cause.addSuppressed(r);
        }
    }

    /** Unbinds {@code a} from its driver (if any) and leaves it unbound; returns the previous binding. */
    public Binding unbind(PciAddress a) {
        Binding before = binding(a);
        if (before.driver() != null) {
            unbindNow(a, before.driver());
        }
        return before;
    }

    private void unbindNow(PciAddress a, String driver) {
        sysfs.write(sysfs.pciDrivers().resolve(driver).resolve("unbind"), a.toString());
    }

    /**
     * Gives {@code a} back to the host: clears {@code driver_override}, unbinds, and lets the kernel probe its default
     * driver. Returns the driver that took it (null if no host driver matches).
     */
    public String bindHost(PciAddress a) {
        return restore(a, new Binding("", null));
    }

    /**
     * Puts back a recorded binding: the override as it was, and the same driver bound (or none).
     * {@code before.driver()} "" means "whatever the host's default driver is". Returns the driver bound afterwards.
     */
    public String restore(PciAddress a, Binding before) {
        Path d = devices.require(a);
        Binding now = binding(a);
        boolean anyHost = "".equals(before.driver());
        if (!anyHost && before.equals(now)) {
            return now.driver();
        }
        // "\n" clears driver_override (an empty write is rejected by some kernels); libvirt does the same
        sysfs.write(d.resolve("driver_override"), before.override() == null ? "\n" : before.override());
        if (now.driver() != null && (anyHost ? now.override() != null : !now.driver().equals(before.driver()))) {
            unbindNow(a, now.driver());
        }
        String cur = sysfs.linkName(d.resolve("driver"));
        if (cur == null && (anyHost || before.driver() != null)) {
            if (!anyHost) {
                ensureLoaded(before.driver());
            }
            sysfs.write(sysfs.driversProbe(), a.toString());
            cur = sysfs.linkName(d.resolve("driver"));
        }
        if (!anyHost && !Objects.equals(cur, before.driver())) {
            throw new PciException(DRIVER, "could not restore " + a + " to " + (before.driver() == null ? "no driver"
                    : before.driver()) + " (driver now: " + (cur == null ? "none" : cur) + ")");
        }
        return cur;
    }

    /** Makes sure {@code /sys/bus/pci/drivers/<driver>} exists, loading the module if allowed. */
    public void ensureLoaded(String driver) {
        Path dir = sysfs.pciDrivers().resolve(driver);
        if (Files.isDirectory(dir)) {
            return;
        }
        String module = driver.replace('-', '_');
        if (modprobe) {
            try {
                Process p = new ProcessBuilder("modprobe", module).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
                if (Files.isDirectory(dir)) {
                    LOG.info("loaded {} (modprobe {})", driver, module);
                    return;
                }
                throw new PciException(DRIVER, "driver " + driver + " is not loaded and 'modprobe " + module
                        + "' did not load it" + (out.isEmpty() ? "" : ": " + out));
            } catch (IOException e) {
                throw new PciException(DRIVER, "driver " + driver + " is not loaded and modprobe could not run", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new PciException(DRIVER, "interrupted loading " + driver, e);
            }
        }
        throw new PciException(DRIVER, "driver " + driver + " is not loaded (" + dir + " missing); load it with modprobe "
                + module);
    }
}

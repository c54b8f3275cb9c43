package dev.jvmm.iommu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * IOMMU groups as sysfs shows them: {@code /sys/bus/pci/devices/BDF/iommu_group} (a link to
 * {@code /sys/kernel/iommu_groups/N}), the group's {@code devices/} and each device's {@code driver} link.
 * The root is a parameter so that tests read a fake tree.
 */
public final class IommuGroups {
    /** Drivers under which the kernel still considers a group viable (vfio_dev_driver_allowed: vfio, pci-stub, pcieport). */
    public static final Set<String> VIABLE_DRIVERS = Set.of("vfio-pci", "pci-stub", "pcieport");
    public static final String VFIO_PCI = "vfio-pci";
    private static final Pattern BDF = Pattern.compile("[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]");
    private static final Pattern SHORT_BDF = Pattern.compile("[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]");

    private final Path sys;

    public IommuGroups(Path sysRoot) {
        this.sys = sysRoot;
    }

    /** The running host's {@code /sys}. */
    public static IommuGroups system() {
        return new IommuGroups(Path.of("/sys"));
    }

    /**
     * A PCI address in the canonical form {@code 0000:01:10.0}; {@code 01:10.0} gets domain 0000 and hex digits are
     * lower-cased. Anything else is an {@link IommuException.Reason#INVALID_ARGUMENT}.
     */
    public static String canonicalBdf(String bdf) {
        if (bdf == null) {
            throw new IommuException(IommuException.Reason.INVALID_ARGUMENT, "no PCI address given");
        }
        String s = bdf.trim().toLowerCase();
        if (SHORT_BDF.matcher(s).matches()) {
            s = "0000:" + s;
        }
        if (!BDF.matcher(s).matches()) {
            throw new IommuException(IommuException.Reason.INVALID_ARGUMENT,
                    "'" + bdf + "' is not a PCI address (expected DDDD:BB:DD.F, e.g. 0000:01:10.0)");
        }
        return s;
    }

    private Path device(String bdf) {
        String b = canonicalBdf(bdf);
        Path d = sys.resolve("bus/pci/devices").resolve(b);
        if (!Files.exists(d)) {
            throw new IommuException(IommuException.Reason.DEVICE_NOT_FOUND, "PCI device " + b + " does not exist ("
                    + d + " is missing; lspci -D lists the devices)");
        }
        return d;
    }

    /** The IOMMU group number of {@code bdf}. */
    public int groupOf(String bdf) {
        Path link = device(bdf).resolve("iommu_group");
        if (!Files.exists(link)) {
            throw new IommuException(IommuException.Reason.NO_IOMMU_GROUP, "PCI device " + canonicalBdf(bdf)
                    + " has no IOMMU group: no IOMMU is active (enable VT-d/AMD-Vi in the firmware and boot with "
                    + "intel_iommu=on or amd_iommu=on; ls /sys/kernel/iommu_groups must not be empty)");
        }
        try {
            return Integer.parseInt(Files.readSymbolicLink(link).getFileName().toString());
        } catch (IOException | NumberFormatException e) {
            throw new IommuException(IommuException.Reason.NO_IOMMU_GROUP, "cannot read " + link + ": " + e, e);
        }
    }

    /** The PCI addresses in group {@code group}, sorted. */
    public List<String> devices(int group) {
        Path dir = sys.resolve("kernel/iommu_groups").resolve(Integer.toString(group)).resolve("devices");
        if (!Files.isDirectory(dir)) {
            throw new IommuException(IommuException.Reason.NO_IOMMU_GROUP, "IOMMU group " + group + " does not exist ("
                    + dir + " is missing)");
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new IommuException(IommuException.Reason.NO_IOMMU_GROUP, "cannot list " + dir + ": " + e, e);
        }
    }

    /** The driver bound to {@code bdf}, empty when none is. */
    public Optional<String> driverOf(String bdf) {
        Path link = device(bdf).resolve("driver");
        if (!Files.exists(link)) {
            return Optional.empty();
        }
        try {
            return Optional.of(Files.readSymbolicLink(link).getFileName().toString());
        } catch (IOException e) {
            throw new IommuException(IommuException.Reason.DEVICE_NOT_FOUND, "cannot read " + link + ": " + e, e);
        }
    }

    /** Whether group {@code group} can be handed to VFIO, and if not, which devices stand in the way. */
    public Viability viability(int group) {
        List<String> devs = devices(group);
        List<String> blocking = new ArrayList<>();
        for (String d : devs) {
            Optional<String> drv = driverOf(d);
            if (drv.isPresent() && !VIABLE_DRIVERS.contains(drv.get())) {
                blocking.add(d + " (" + drv.get() + ")");
            }
        }
        return new Viability(group, devs, List.copyOf(blocking));
    }

    /**
     * Checks that {@code bdf} is bound to vfio-pci and that its group is viable; returns the group number.
     * The errors say which driver is in the way and how to rebind.
     */
    public int requireVfioReady(String bdf) {
        String b = canonicalBdf(bdf);
        Optional<String> drv = driverOf(b);
        if (drv.isEmpty() || !drv.get().equals(VFIO_PCI)) {
            String unbind = drv.map(d -> "echo " + b + " > /sys/bus/pci/drivers/" + d + "/unbind; ").orElse("");
            throw new IommuException(IommuException.Reason.NOT_BOUND_TO_VFIO, "PCI device " + b + " is "
                    + drv.map(d -> "bound to " + d + ", not to vfio-pci").orElse("not bound to vfio-pci (no driver)")
                    + "; bind it with: modprobe vfio-pci; echo vfio-pci > /sys/bus/pci/devices/" + b + "/driver_override; "
                    + unbind + "echo " + b + " > /sys/bus/pci/drivers_probe");
        }
        int group = groupOf(b);
        Viability v = viability(group);
        if (!v.viable()) {
            throw v.notViable();
        }
        return group;
    }

    /** Group viability: every device is bound to vfio-pci, pci-stub or pcieport, or to no driver. */
    public record Viability(int group, List<String> devices, List<String> notBoundToVfio) {
        public boolean viable() {
            return notBoundToVfio.isEmpty();
        }

        /** The error that names the devices in the way. */
        public IommuException notViable() {
            return new IommuException(IommuException.Reason.GROUP_NOT_VIABLE, "IOMMU group " + group
                    + " is not viable: every device in it must be bound to vfio-pci (or have no driver); these are not: "
                    + String.join(", ", notBoundToVfio) + " (group members: " + String.join(" ", devices) + ")");
        }
    }
}

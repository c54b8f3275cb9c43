package dev.jvmm.sys.pci;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * IOMMU groups as sysfs shows them: {@code /sys/bus/pci/devices/BDF/iommu_group} (a link to
 * {@code /sys/kernel/iommu_groups/N}), the group's {@code devices/} and each member's {@code driver} link; and
 * whether a group can be handed to VFIO now. The root is a parameter so that tests read a fake tree.
 */
public final class IommuGroups {
    /** Drivers under which the kernel still considers a group viable (vfio_dev_driver_allowed: vfio, pci-stub, pcieport). */
    public static final Set<String> VIABLE_DRIVERS = Set.of(DriverBinder.VFIO_PCI, "pci-stub", "pcieport");
    public static final String VFIO_PCI = DriverBinder.VFIO_PCI;

    private final PciDevices pci;

    public IommuGroups(PciDevices pci) {
        this.pci = pci;
    }

    public IommuGroups(Path sysRoot) {
        this(new PciDevices(new Sysfs(sysRoot)));
    }

    /** The running host's {@code /sys}. */
    public static IommuGroups system() {
        return new IommuGroups(PciDevices.system());
    }

    public PciDevices pci() {
        return pci;
    }

    /** Whether a member bound to {@code driver} (null: none) leaves its group viable. */
    public static boolean allowsVfio(String driver) {
        return driver == null || VIABLE_DRIVERS.contains(driver);
    }

    /** Every IOMMU group number, ascending; empty when no IOMMU is enabled. */
    public List<Integer> all() {
        List<Integer> out = new ArrayList<>();
        for (String n : pci.sysfs().list(pci.sysfs().iommuGroups())) {
            if (!n.isEmpty() && n.chars().allMatch(Character::isDigit)) {
                out.add(Integer.valueOf(n));
            }
        }
        out.sort(null);
        return out;
    }

    /** The IOMMU group number of {@code a}; DEVICE_NOT_FOUND or NO_IOMMU_GROUP (saying how to enable the IOMMU). */
    public int groupOf(PciAddress a) {
        Integer g = pci.iommuGroup(a);
        if (g == null) {
            throw new PciException(PciException.Reason.NO_IOMMU_GROUP, "PCI device " + a
                    + " has no IOMMU group: no IOMMU is active (enable VT-d/AMD-Vi in the firmware and boot with "
                    + "intel_iommu=on or amd_iommu=on; ls /sys/kernel/iommu_groups must not be empty)");
        }
        return g;
    }

    private Path groupDir(int group) {
        return pci.sysfs().iommuGroups().resolve(Integer.toString(group));
    }

    /** The PCI functions in group {@code group}, sorted; NO_IOMMU_GROUP when there is no such group. */
    public List<PciAddress> devices(int group) {
        Path dir = groupDir(group).resolve("devices");
        if (!Files.isDirectory(dir)) {
            throw new PciException(PciException.Reason.NO_IOMMU_GROUP, "IOMMU group " + group + " does not exist ("
                    + dir + " is missing)");
        }
        List<PciAddress> out = new ArrayList<>();
        for (String n : pci.sysfs().list(dir)) {
            if (PciAddress.looksLike(n)) {
                out.add(PciAddress.parse(n));
            }
        }
        out.sort(null);
        return List.copyOf(out);
    }

    /** The group's default domain type ({@code DMA}, {@code DMA-FQ}, {@code identity}), or null when not shown. */
    public String type(int group) {
        return pci.sysfs().read(groupDir(group).resolve("type"));
    }

    /** Whether group {@code group} can be handed to VFIO, and if not, which devices stand in the way. */
    public Viability viability(int group) {
        List<PciAddress> devs = devices(group);
        List<String> blocking = new ArrayList<>();
        for (PciAddress d : devs) {
            String drv = pci.driver(d);
            if (!allowsVfio(drv)) {
                blocking.add(d + " (" + drv + ")");
            }
        }
        return new Viability(group, devs, List.copyOf(blocking));
    }

    /**
     * Checks that {@code a} has an IOMMU group (first: without an IOMMU, binding advice would be no help), is bound
     * to vfio-pci, and that its group is viable; returns the group number. The errors say what is missing, which
     * driver is in the way and how to rebind.
     */
    public int requireVfioReady(PciAddress a) {
        int group = groupOf(a);
        String drv = pci.driver(a);
        if (!VFIO_PCI.equals(drv)) {
            String unbind = drv == null ? "" : "echo " + a + " > /sys/bus/pci/drivers/" + drv + "/unbind; ";
            throw new PciException(PciException.Reason.NOT_BOUND_TO_VFIO, "PCI device " + a + " is "
                    + (drv == null ? "not bound to vfio-pci (no driver)" : "bound to " + drv + ", not to vfio-pci")
                    + "; bind it with: modprobe vfio-pci; echo vfio-pci > /sys/bus/pci/devices/" + a + "/driver_override; "
                    + unbind + "echo " + a + " > /sys/bus/pci/drivers_probe");
        }
        Viability v = viability(group);
        if (!v.viable()) {
            throw v.notViable();
        }
        return group;
    }

    /**
     * Group viability: every member is bound to vfio-pci, pci-stub or pcieport, or to no driver.
     *
     * @param notBoundToVfio the members in the way, each as {@code 0000:03:00.1 (snd_hda_intel)}
     */
    public record Viability(int group, List<PciAddress> devices, List<String> notBoundToVfio) {
        public boolean viable() {
            return notBoundToVfio.isEmpty();
        }

        /** The error that names the devices in the way. */
        public PciException notViable() {
            return new PciException(PciException.Reason.GROUP_NOT_VIABLE, "IOMMU group " + group
                    + " is not viable: every device in it must be bound to vfio-pci (or have no driver); these are not: "
                    + String.join(", ", notBoundToVfio) + " (group members: "
                    + String.join(" ", devices.stream().map(PciAddress::toString).toList()) + ")");
        }
    }
}

package dev.jvmm.sys.pci;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The host's PCI functions as {@code /sys/bus/pci/devices} shows them: identity, driver, {@code driver_override},
 * IOMMU group, network interfaces, SR-IOV links and counts, the bridges above a function and its config space.
 * The one reader of these facts; the root is a parameter ({@link Sysfs}) so that tests read a fake tree.
 */
public final class PciDevices {
    private final Sysfs sysfs;

    public PciDevices(Sysfs sysfs) {
        this.sysfs = sysfs;
    }

    /** The running host's {@code /sys}. */
    public static PciDevices system() {
        return new PciDevices(Sysfs.system());
    }

    public Sysfs sysfs() {
        return sysfs;
    }

    /** Every PCI function, sorted by address. */
    public List<PciAddress> all() {
        List<PciAddress> out = new ArrayList<>();
        for (String name : sysfs.list(sysfs.pciDevices())) {
            if (PciAddress.looksLike(name)) {
                out.add(PciAddress.parse(name));
            }
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }

    /** The device's sysfs directory ({@code /sys/bus/pci/devices/0000:01:00.0}), whether it exists or not. */
    public Path dir(PciAddress a) {
        return sysfs.pciDevice(a);
    }

    public boolean exists(PciAddress a) {
        return Files.isDirectory(dir(a));
    }

    /** The device's sysfs directory; {@link PciException.Reason#DEVICE_NOT_FOUND} when there is none. */
    public Path require(PciAddress a) {
        Path d = dir(a);
        if (!Files.isDirectory(d)) {
            throw new PciException(PciException.Reason.DEVICE_NOT_FOUND, "PCI device " + a + " does not exist ("
                    + d + " is missing; lspci -D lists the devices)");
        }
        return d;
    }

    /** Everything sysfs says about {@code a}; DEVICE_NOT_FOUND when it does not exist. */
    public PciFunction function(PciAddress a) {
        Path d = require(a);
        String phys = sysfs.linkName(d.resolve("physfn"));
        return new PciFunction(a, hex(d.resolve("vendor"), "????"), hex(d.resolve("device"), "????"),
                hex(d.resolve("class"), ""), sysfs.linkName(d.resolve("driver")), override(d), group(d),
                numaNode(d), sysfs.list(d.resolve("net")), phys != null && PciAddress.looksLike(phys)
                        ? PciAddress.parse(phys) : null, sriov(d));
    }

    private String hex(Path p, String missing) {
        String s = sysfs.read(p);
        if (s == null) {
            return missing;
        }
        s = s.toLowerCase(Locale.ROOT);
        return s.startsWith("0x") ? s.substring(2) : s;
    }

    private int numaNode(Path d) {
        String s = sysfs.read(d.resolve("numa_node"));
        try {
            return s == null ? -1 : Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private String override(Path d) {
        String ovr = sysfs.read(d.resolve("driver_override"));
        return ovr == null || ovr.isEmpty() || ovr.equals("(null)") ? null : ovr;
    }

    private Integer group(Path d) {
        String g = sysfs.linkName(d.resolve("iommu_group"));
        try {
            return g == null ? null : Integer.valueOf(g);
        } catch (NumberFormatException e) {
            throw new PciException(PciException.Reason.SYSFS, d.resolve("iommu_group") + " links to '" + g
                    + "', not to a group number", e);
        }
    }

    private PciFunction.Sriov sriov(Path d) {
        Integer total = sysfs.readInt(d.resolve("sriov_totalvfs"));
        if (total == null) {
            return null;
        }
        Integer num = sysfs.readInt(d.resolve("sriov_numvfs"));
        Integer auto = sysfs.readInt(d.resolve("sriov_drivers_autoprobe"));
        List<PciFunction.Vf> vfs = new ArrayList<>();
        for (String n : sysfs.list(d)) {
            if (n.length() > 6 && n.startsWith("virtfn") && n.substring(6).chars().allMatch(Character::isDigit)) {
                String target = sysfs.linkName(d.resolve(n));
                if (target != null && PciAddress.looksLike(target)) {
                    vfs.add(new PciFunction.Vf(Integer.parseInt(n.substring(6)), PciAddress.parse(target)));
                }
            }
        }
        vfs.sort(Comparator.comparingInt(PciFunction.Vf::index));
        return new PciFunction.Sriov(total, num == null ? 0 : num, auto == null ? null : auto != 0, vfs);
    }

    /** The driver bound to {@code a}, null when none is; DEVICE_NOT_FOUND when the device does not exist. */
    public String driver(PciAddress a) {
        return sysfs.linkName(require(a).resolve("driver"));
    }

    /** {@code driver_override} of {@code a}, null when unset ({@code (null)}). */
    public String driverOverride(PciAddress a) {
        return override(require(a));
    }

    /** The IOMMU group number of {@code a}, null when it has none (no IOMMU). */
    public Integer iommuGroup(PciAddress a) {
        return group(require(a));
    }

    /** {@code operstate} of one of the device's network interfaces ({@code up}, {@code down}...), or null. */
    public String operstate(PciAddress a, String netdev) {
        return sysfs.read(dir(a).resolve("net").resolve(netdev).resolve("operstate"));
    }

    /** The device's VFIO character devices ({@code vfio-dev/vfioN}, the iommufd interface), usually none. */
    public List<String> vfioCdevs(PciAddress a) {
        return sysfs.list(dir(a).resolve("vfio-dev"));
    }

    /** The PCI function behind network interface {@code ifname} ({@code /sys/class/net/IF/device}), or null. */
    public PciAddress byInterface(String ifname) {
        String target = sysfs.linkName(sysfs.classNet().resolve(ifname).resolve("device"));
        return target != null && PciAddress.looksLike(target) ? PciAddress.parse(target) : null;
    }

    /**
     * The bridges between the root complex and {@code a}, nearest first, from the device's real sysfs path
     * ({@code /sys/devices/pci0000:00/0000:00:02.0/0000:01:00.0}).
     */
    public List<PciAddress> upstreamBridges(PciAddress a) {
        Path real;
        try {
            real = dir(a).toRealPath();
        } catch (IOException e) {
            return List.of();
        }
        List<PciAddress> out = new ArrayList<>();
        for (Path p = real.getParent(); p != null && p.getFileName() != null; p = p.getParent()) {
            String name = p.getFileName().toString();
            if (!PciAddress.looksLike(name) || name.indexOf(':') == name.lastIndexOf(':')) { // full DDDD:BB:DD.F only
                break;
            }
            out.add(PciAddress.parse(name));
        }
        return out;
    }

    /**
     * The device's config space ({@code config}), at most {@code max} bytes: 64 for a user, 256 or 4096 for root
     * (the kernel hides the rest). Empty when it cannot be read.
     */
    public Optional<byte[]> config(PciAddress a, int max) {
        try (var in = Files.newInputStream(dir(a).resolve("config"))) {
            return Optional.of(in.readNBytes(max));
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
    }
}

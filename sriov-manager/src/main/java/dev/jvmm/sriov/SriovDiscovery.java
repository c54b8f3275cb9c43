package dev.jvmm.sriov;

import static dev.jvmm.sriov.SriovException.Reason.NOT_FOUND;
import static dev.jvmm.sriov.SriovException.Reason.NOT_SRIOV;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Finds SR-IOV PFs and their VFs in sysfs ({@code Documentation/ABI/testing/sysfs-bus-pci}): a PF has
 * {@code sriov_totalvfs}; its VFs are the {@code virtfnN} links; each VF links back with {@code physfn}.
 */
public final class SriovDiscovery {
    private final Sysfs sysfs;

    public SriovDiscovery(Sysfs sysfs) {
        this.sysfs = sysfs;
    }

    public Sysfs sysfs() {
        return sysfs;
    }

    /** Every PCI function with an SR-IOV capability, sorted by address. */
    public List<PfInfo> pfs() {
        List<PfInfo> out = new ArrayList<>();
        for (String name : sysfs.list(sysfs.pciDevices())) {
            Path dev = sysfs.pciDevices().resolve(name);
            if (Files.exists(dev.resolve("sriov_totalvfs")) && PciAddress.looksLike(name)) {
                out.add(pf(PciAddress.parse(name)));
            }
        }
        out.sort(Comparator.comparing(PfInfo::bdf));
        return out;
    }

    /**
     * Resolves a PF given as a PCI address or as a network interface name ({@code /sys/class/net/<if>/device}).
     */
    public PciAddress resolve(String pfOrIfname) {
        if (pfOrIfname.contains(":")) { // interface names cannot hold ':' in a useful way; treat as a BDF
            PciAddress.parse(pfOrIfname);
        }
        if (PciAddress.looksLike(pfOrIfname)) {
            PciAddress a = PciAddress.parse(pfOrIfname);
            if (!Files.isDirectory(sysfs.pciDevice(a))) {
                throw new SriovException(NOT_FOUND, "no PCI device " + a + " (" + sysfs.pciDevice(a) + " does not exist)");
            }
            return a;
        }
        if (pfOrIfname.isEmpty() || pfOrIfname.contains("/")) {
            throw new SriovException(SriovException.Reason.INVALID_ARGUMENT, "'" + pfOrIfname + "' is neither a PCI address nor an interface name");
        }
        Path dev = sysfs.classNet().resolve(pfOrIfname).resolve("device");
        String target = sysfs.linkName(dev);
        if (target == null) {
            throw new SriovException(NOT_FOUND, "no network interface '" + pfOrIfname + "' backed by a PCI device ("
                    + dev + " missing)");
        }
        return PciAddress.parse(target);
    }

    /** The PF at {@code a}; NOT_SRIOV when it has no SR-IOV capability (no {@code sriov_totalvfs}). */
    public PfInfo pf(PciAddress a) {
        Path dev = sysfs.pciDevice(a);
        if (!Files.isDirectory(dev)) {
            throw new SriovException(NOT_FOUND, "no PCI device " + a);
        }
        Integer total = sysfs.readInt(dev.resolve("sriov_totalvfs"));
        if (total == null) {
            String phys = sysfs.linkName(dev.resolve("physfn"));
            throw new SriovException(NOT_SRIOV, a + (phys != null ? " is a VF of " + phys + ", not a PF"
                    : " has no SR-IOV capability (no sriov_totalvfs in sysfs), or its driver does not support SR-IOV"));
        }
        Integer num = sysfs.readInt(dev.resolve("sriov_numvfs"));
        Integer auto = sysfs.readInt(dev.resolve("sriov_drivers_autoprobe"));
        List<VfDevice> vfs = new ArrayList<>();
        for (String n : sysfs.list(dev)) {
            if (n.startsWith("virtfn") && n.substring(6).chars().allMatch(Character::isDigit) && n.length() > 6) {
                String target = sysfs.linkName(dev.resolve(n));
                if (target != null) {
                    vfs.add(vf(Integer.parseInt(n.substring(6)), PciAddress.parse(target)));
                }
            }
        }
        vfs.sort(Comparator.comparingInt(VfDevice::index));
        return new PfInfo(a, vendorDevice(dev), sysfs.linkName(dev.resolve("driver")), total, num == null ? 0 : num,
                auto == null || auto != 0, sysfs.list(dev.resolve("net")), List.copyOf(vfs));
    }

    private String vendorDevice(Path dev) {
        String v = sysfs.read(dev.resolve("vendor"));
        String d = sysfs.read(dev.resolve("device"));
        return (v == null ? "?" : v.replace("0x", "")) + ":" + (d == null ? "?" : d.replace("0x", ""));
    }

    /** A VF's sysfs facts. */
    public VfDevice vf(int index, PciAddress bdf) {
        Path dev = sysfs.pciDevice(bdf);
        String ovr = sysfs.read(dev.resolve("driver_override"));
        String group = sysfs.linkName(dev.resolve("iommu_group"));
        List<String> net = sysfs.list(dev.resolve("net"));
        return new VfDevice(index, bdf, sysfs.linkName(dev.resolve("driver")),
                ovr == null || ovr.isEmpty() || ovr.equals("(null)") ? null : ovr,
                group == null ? null : Integer.valueOf(group), net.isEmpty() ? null : net.get(0), null);
    }

    /** Driver bound to any PCI device, or null. */
    public String driverOf(PciAddress a) {
        return sysfs.linkName(sysfs.pciDevice(a).resolve("driver"));
    }
}

package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import dev.jvmm.sys.pci.IommuGroups;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciException;
import dev.jvmm.sys.pci.PciFunction;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * IOMMU presence (ACPI), enablement (groups), kernel command line, interrupt remapping, posted interrupts
 * ({@link PostedInterrupts}), groups and ACS.
 */
final class IommuChecks {
    private IommuChecks() {
    }

    /** Reads every IOMMU group with its members; empty when the IOMMU is off. */
    static List<IommuGroup> groups(HostView h) {
        IommuGroups groups = new IommuGroups(h.pci());
        List<IommuGroup> out = new ArrayList<>();
        for (int id : groups.all()) {
            List<PciFunction> devs = new ArrayList<>();
            boolean viable;
            try {
                for (PciAddress a : groups.devices(id)) {
                    devs.add(h.pci().function(a));
                }
                viable = groups.viability(id).viable();
            } catch (PciException e) {
                viable = false; // a member vanished or reads oddly: report what was read, not as usable
            }
            List<PciFunction> endpoints = devs.stream().filter(d -> !d.isBridge()).toList();
            boolean isolated = endpoints.size() == 1;
            String type = groups.type(id);
            out.add(new IommuGroup(Integer.toString(id), type == null ? "" : type, devs, viable && !endpoints.isEmpty(),
                    isolated));
        }
        return out;
    }

    static void run(ProbeContext c, List<IommuGroup> groups, CheckList out) {
        HostView h = c.h;
        boolean intelCpu = c.cpuFlags.contains("vmx");
        boolean amdCpu = c.cpuFlags.contains("svm");
        Path tables = h.sys("firmware/acpi/tables");
        boolean dmar = h.exists(tables.resolve("DMAR"));
        boolean ivrs = h.exists(tables.resolve("IVRS"));
        boolean iort = h.exists(tables.resolve("IORT"));
        List<String> units = h.list(h.sys("class/iommu"));
        boolean enabled = !groups.isEmpty();

        // 1. firmware describes an IOMMU
        List<Evidence> ev = new ArrayList<>();
        ev.add(ev(h.show(tables.resolve("DMAR")) + " (Intel VT-d)", dmar ? "present" : "absent"));
        ev.add(ev(h.show(tables.resolve("IVRS")) + " (AMD-Vi)", ivrs ? "present" : "absent"));
        if (iort) {
            ev.add(ev(h.show(tables.resolve("IORT")) + " (Arm SMMU)", "present"));
        }
        if (dmar || ivrs || iort) {
            out.add("iommu.acpi", "iommu", Status.PASS, "Firmware describes an IOMMU (" + (dmar ? "DMAR, Intel VT-d"
                    : ivrs ? "IVRS, AMD-Vi" : "IORT, Arm SMMU") + ")", "", ev);
        } else if (!h.isDirectory(tables)) {
            ev.add(ev(h.show(tables), "not visible (container or no ACPI)"));
            out.add("iommu.acpi", "iommu", enabled ? Status.INFO : Status.WARN,
                    "Cannot see the ACPI tables, so cannot tell whether the firmware has an IOMMU",
                    "Run the probe on the host itself, not in a container that hides /sys/firmware", ev);
        } else if (enabled) {
            out.add("iommu.acpi", "iommu", Status.INFO, "No DMAR/IVRS table, but the kernel has IOMMU groups"
                    + " (e.g. virtio-iommu)", "", ev);
        } else {
            out.add("iommu.acpi", "iommu", Status.FAIL, "Firmware describes no IOMMU (no ACPI DMAR or IVRS table)",
                    "Enable VT-d / AMD-Vi (\"IOMMU\", \"SVM/VT-d\") in the firmware setup; in a VM, give it a"
                            + " virtual IOMMU (QEMU: -device intel-iommu,intremap=on)", ev);
        }

        // 2. the kernel enabled it
        List<String> flags = new ArrayList<>();
        for (String t : c.cmdline) {
            if (t.startsWith("intel_iommu=") || t.startsWith("amd_iommu=") || t.startsWith("iommu=")
                    || t.startsWith("iommu.") || t.startsWith("intremap=") || t.startsWith("vfio")
                    || t.startsWith("pcie_acs_override=") || t.startsWith("amd_iommu_intr=")) {
                flags.add(t);
            }
        }
        List<Evidence> en = new ArrayList<>();
        en.add(ev(h.show(h.sys("kernel/iommu_groups")), groups.size() + " groups"));
        en.add(ev(h.show(h.sys("class/iommu")), units.isEmpty() ? "empty" : String.join(" ", units)));
        en.add(ev(h.show(h.proc("cmdline")) + " IOMMU flags", flags.isEmpty() ? "none" : String.join(" ", flags)));
        if (enabled) {
            String type = groups.stream().map(IommuGroup::type).filter(s -> !s.isEmpty()).findFirst().orElse("?");
            en.add(ev("default domain type (group 0 type)", type));
            out.add("iommu.enabled", "iommu", Status.PASS, "IOMMU enabled by the kernel: " + groups.size()
                    + " groups, units " + String.join(" ", units), "", en);
        } else {
            String remedy = intelCpu || dmar ? "Add intel_iommu=on iommu=pt to the kernel command line and reboot"
                    : amdCpu || ivrs ? "Add amd_iommu=on iommu=pt to the kernel command line (and enable AMD-Vi in"
                            + " the firmware), then reboot"
                    : "Enable the IOMMU in the firmware and add intel_iommu=on or amd_iommu=on to the kernel command"
                            + " line; a kernel without CONFIG_IOMMU_SUPPORT cannot do passthrough";
            out.add("iommu.enabled", "iommu", Status.FAIL, "IOMMU not enabled by the kernel (no IOMMU groups)",
                    remedy, en);
        }

        interruptRemapping(c, enabled, units, out);
        PostedInterrupts.of(c).addTo(out, enabled);
        if (enabled) {
            groupsCheck(c, groups, out);
            acs(c, groups, out);
        }
    }

    private static void interruptRemapping(ProbeContext c, boolean enabled, List<String> units, CheckList out) {
        HostView h = c.h;
        List<Evidence> ev = new ArrayList<>();
        // Hardware: Intel ECAP bit 3 (IR) per DMAR unit; AMD-Vi always has IR when it is enabled.
        boolean hwIr = false;
        for (String u : units) {
            Path ecap = h.sys("class/iommu/" + u + "/intel-iommu/ecap");
            Optional<Long> v = h.line(ecap).flatMap(s -> HostView.parseNumber("0x" + s));
            if (v.isPresent()) {
                boolean ir = (v.get() & 0x8) != 0;
                ev.add(ev(h.show(ecap), Long.toHexString(v.get()) + " (IR bit 3 " + (ir ? "set" : "clear") + ")"));
                hwIr |= ir;
            } else if (h.isDirectory(h.sys("class/iommu/" + u + "/amd-iommu"))) {
                ev.add(ev(h.show(h.sys("class/iommu/" + u)), "AMD-Vi unit (interrupt remapping capable)"));
                hwIr = true;
            }
        }
        long irLines = remappedInterruptLines(h);
        long msiLines = 0;
        for (String line : h.read(h.proc("interrupts")).orElse("").split("\n")) {
            if (line.contains("MSI")) {
                msiLines++;
            }
        }
        ev.add(ev(h.show(h.proc("interrupts")), irLines + " lines through IR-* chips, " + msiLines + " MSI lines"));
        Optional<String> intremap = c.cmdlineValue("intremap");
        intremap.ifPresent(v -> ev.add(ev("/proc/cmdline intremap", v)));
        Path unsafe = h.sys("module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
        Optional<String> unsafeV = h.line(unsafe);
        ev.add(ev(h.show(unsafe), unsafeV.orElse("absent")));
        boolean allowUnsafe = unsafeV.map(v -> v.equalsIgnoreCase("Y") || v.equals("1")).orElse(false);
        boolean inUse = irLines > 0;
        if (!enabled) {
            out.add("iommu.interrupt-remapping", "iommu", Status.INFO,
                    "Interrupt remapping not applicable: the IOMMU is not enabled", "", ev);
        } else if (inUse) {
            if (allowUnsafe) {
                out.add("iommu.interrupt-remapping", "iommu", Status.WARN, "Interrupt remapping on, but"
                        + " vfio_iommu_type1 allow_unsafe_interrupts=Y weakens isolation",
                        "Remove allow_unsafe_interrupts=1 from the vfio_iommu_type1 options", ev);
            } else {
                out.add("iommu.interrupt-remapping", "iommu", Status.PASS, "Interrupt remapping in use", "", ev);
            }
        } else if (allowUnsafe) {
            out.add("iommu.interrupt-remapping", "iommu", Status.WARN, "No interrupt remapping; VFIO accepts"
                    + " devices only because allow_unsafe_interrupts=Y (a guest can forge MSIs)",
                    "Use hardware with interrupt remapping (VT-d IR / AMD-Vi) and remove intremap=off", ev);
        } else {
            out.add("iommu.interrupt-remapping", "iommu", Status.FAIL, hwIr
                    ? "IOMMU can remap interrupts but the kernel does not (VFIO will refuse devices)"
                    : "No interrupt remapping (VFIO will refuse to assign devices)",
                    hwIr ? "Remove intremap=off / nointremap from the kernel command line; x2APIC must be usable"
                            : "Use an IOMMU with interrupt remapping (QEMU: intel-iommu,intremap=on with a split"
                                    + " irqchip), or as a last resort set vfio_iommu_type1 allow_unsafe_interrupts=1",
                    ev);
        }
    }

    /** Kernel: interrupt chips named IR-* in /proc/interrupts mean remapping is in use; how many lines use one. */
    static long remappedInterruptLines(HostView h) {
        long n = 0;
        for (String line : h.read(h.proc("interrupts")).orElse("").split("\n")) {
            if (line.contains("IR-")) {
                n++;
            }
        }
        return n;
    }

    private static void groupsCheck(ProbeContext c, List<IommuGroup> groups, CheckList out) {
        List<Evidence> ev = new ArrayList<>();
        int isolated = 0;
        int viable = 0;
        for (IommuGroup g : groups) {
            StringBuilder sb = new StringBuilder();
            for (PciFunction d : g.devices()) {
                if (sb.length() > 0) {
                    sb.append(", ");
                }
                sb.append(d.address()).append(' ').append(d.id()).append(" [").append(d.driver() == null ? "no driver"
                        : d.driver()).append(']');
                if (d.isBridge()) {
                    sb.append(" bridge");
                }
            }
            sb.append(g.isolated() ? "; isolated" : g.endpoints().isEmpty() ? "; bridges only"
                    : "; shared by " + g.endpoints().size() + " devices");
            sb.append(g.viable() ? "; viable now" : "");
            ev.add(ev("iommu_group " + g.id(), sb.toString()));
            isolated += g.isolated() ? 1 : 0;
            viable += g.viable() ? 1 : 0;
        }
        out.add("iommu.groups", "iommu", Status.INFO, groups.size() + " IOMMU groups: " + isolated
                + " isolated (one device), " + viable + " viable now (all members on vfio-pci/pci-stub/no driver)",
                "", ev);
    }

    /** ACS on the PCIe root and downstream ports above each endpoint, the way libvirt's virpci.c walks it. */
    private static void acs(ProbeContext c, List<IommuGroup> groups, CheckList out) {
        HostView h = c.h;
        Pci pci = new Pci(h.pci());
        Map<PciAddress, String> ports = new LinkedHashMap<>();
        for (IommuGroup g : groups) {
            for (PciFunction d : g.endpoints()) {
                for (PciAddress b : h.pci().upstreamBridges(d.address())) {
                    if (ports.containsKey(b)) {
                        continue;
                    }
                    Optional<Pci.Config> cfg = pci.config(b);
                    int type = cfg.map(Pci::pcieType).orElse(-1);
                    // 4 = root port, 6 = downstream switch port: the ports ACS matters on
                    if (type == 4 || type == 6) {
                        ports.put(b, (type == 4 ? "root port" : "downstream port") + ": ACS " + pci.acs(b));
                    }
                }
            }
        }
        List<Evidence> ev = new ArrayList<>();
        ports.forEach((b, v) -> ev.add(ev(h.show(h.pci().dir(b).resolve("config")), v)));
        long missing = ports.values().stream().filter(v -> v.endsWith("ACS missing") || v.contains("partial")).count();
        long unreadable = ports.values().stream().filter(v -> v.contains("unreadable")).count();
        if (ports.isEmpty()) {
            out.add("iommu.acs", "iommu", Status.INFO, "No PCIe root or downstream ports above devices"
                    + " (devices sit on the root bus)", "", ev);
        } else if (missing > 0) {
            out.add("iommu.acs", "iommu", Status.WARN, missing + " of " + ports.size()
                    + " PCIe ports lack ACS: devices below them share an IOMMU group",
                    "Put the device in a slot whose root port has ACS, or assign the whole group; never use"
                            + " pcie_acs_override on a host that needs isolation", ev);
        } else if (unreadable > 0) {
            out.add("iommu.acs", "iommu", Status.INFO, "ACS not verified: extended config space of " + unreadable
                    + " ports needs root", "", ev);
        } else {
            out.add("iommu.acs", "iommu", Status.PASS, "ACS enabled on all " + ports.size()
                    + " PCIe ports above devices", "", ev);
        }
    }
}

package dev.jvmm.probe;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses {@code virt-host-validate qemu} output and compares each line with jvmm's equivalent check, read from the
 * probe's JSON (so the same comparison runs on this machine and on a report produced inside the lab's L1).
 */
final class VirtHostValidate {
    /** One line: {@code QEMU: Checking for hardware virtualization : PASS} (with an optional "(hint)"). */
    record Line(String check, String result, String hint) {
        boolean pass() {
            return result.equals("PASS");
        }
    }

    /** One comparison. {@code knownDifference} is non-null when docs/probe.md explains why the tools differ. */
    record Comparison(Line vhv, String jvmmCheck, boolean jvmmPass, String knownDifference) {
        boolean agrees() {
            return vhv.pass() == jvmmPass;
        }
    }

    private static final Pattern LINE = Pattern.compile("^\\s*QEMU: Checking (.*?)\\s+: (PASS|WARN|FAIL|NOTE)(?: \\((.*)\\))?\\s*$");

    static List<Line> parse(String output) {
        List<Line> out = new ArrayList<>();
        for (String l : output.split("\n")) {
            Matcher m = LINE.matcher(l.replaceAll("\u001b\\[[0-9;]*m", ""));
            if (m.matches()) {
                out.add(new Line(m.group(1).trim(), m.group(2), m.group(3) == null ? "" : m.group(3)));
            }
        }
        return out;
    }

    /** Lines that jvmm deliberately does not check (cgroup controllers: jvmm does not use cgroups). */
    static boolean notCheckedByJvmm(Line l) {
        return l.check().startsWith("for cgroup ");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> check(Map<String, Object> report, String id) {
        for (Object o : (List<Object>) report.get("checks")) {
            Map<String, Object> c = (Map<String, Object>) o;
            if (id.equals(c.get("id"))) {
                return c;
            }
        }
        return null;
    }

    @SuppressWarnings("unchecked")
    static Optional<String> evidence(Map<String, Object> check, String source) {
        if (check == null) {
            return Optional.empty();
        }
        for (Object o : (List<Object>) check.get("evidence")) {
            Map<String, Object> e = (Map<String, Object>) o;
            if (source.equals(e.get("source"))) {
                return Optional.of((String) e.get("value"));
            }
        }
        return Optional.empty();
    }

    static boolean passed(Map<String, Object> check) {
        return check != null && "PASS".equals(check.get("status"));
    }

    /**
     * Maps every vhv line jvmm has an equivalent for. Lines jvmm does not check are left out (see
     * {@link #notCheckedByJvmm}); an unknown line throws, so a new libvirt check is noticed.
     */
    static List<Comparison> compare(List<Line> lines, Map<String, Object> report) {
        List<Comparison> out = new ArrayList<>();
        Map<String, Object> cpu = check(report, "cpu.virt");
        String flags = evidence(cpu, "/proc/cpuinfo flags").orElse("");
        for (Line l : lines) {
            String c = l.check().replace("'", "");
            if (notCheckedByJvmm(l)) {
                continue;
            }
            if (c.equals("for hardware virtualization")) {
                out.add(new Comparison(l, "cpu.virt", passed(cpu), null));
            } else if (c.equals("if device /dev/kvm exists")) {
                Map<String, Object> k = check(report, "kvm.device");
                out.add(new Comparison(l, "kvm.device", "exists".equals(evidence(k, "/dev/kvm").orElse("")), null));
            } else if (c.equals("if device /dev/kvm is accessible")) {
                out.add(new Comparison(l, "kvm.device", passed(check(report, "kvm.device")), null));
            } else if (c.equals("if device /dev/vhost-net exists")) {
                Map<String, Object> v = check(report, "devices.vhost-net");
                out.add(new Comparison(l, "devices.vhost-net",
                        !"missing".equals(evidence(v, "/dev/vhost-net").orElse("missing")), null));
            } else if (c.equals("if device /dev/net/tun exists")) {
                Map<String, Object> t = check(report, "devices.tun");
                out.add(new Comparison(l, "devices.tun",
                        !"missing".equals(evidence(t, "/dev/net/tun").orElse("missing")), null));
            } else if (c.equals("for device assignment IOMMU support")) {
                Map<String, Object> a = check(report, "iommu.acpi");
                boolean dmar = "present".equals(evidence(a, "/sys/firmware/acpi/tables/DMAR (Intel VT-d)").orElse(""));
                boolean ivrs = "present".equals(evidence(a, "/sys/firmware/acpi/tables/IVRS (AMD-Vi)").orElse(""));
                // libvirt picks the table by CPU flag (vmx -> DMAR, svm -> IVRS, neither -> "Unknown");
                // jvmm accepts either table whatever the CPU says
                boolean libvirtRule = (flags.equals("vmx") && dmar) || (flags.equals("svm") && ivrs);
                String known = libvirtRule == passed(a) ? null : flags.equals("vmx") || flags.equals("svm")
                        ? "libvirt looks only for the " + (flags.equals("vmx") ? "DMAR" : "IVRS")
                                + " table on a " + flags + " CPU; jvmm accepts any IOMMU table (here "
                                + (dmar ? "DMAR" : "IVRS") + ")"
                        : "libvirt cannot tell the IOMMU vendor without vmx/svm and says 'Unknown'";
                out.add(new Comparison(l, "iommu.acpi", passed(a), known));
            } else if (c.equals("if IOMMU is enabled by kernel")) {
                out.add(new Comparison(l, "iommu.enabled", passed(check(report, "iommu.enabled")), null));
            } else if (c.equals("for secure guest support")) {
                out.add(new Comparison(l, "secure-guest",
                        "true".equals(evidence(check(report, "secure-guest"), "supported").orElse("")), null));
            } else {
                throw new AssertionError("virt-host-validate line jvmm has no mapping for (add one, or document it"
                        + " in docs/probe.md): " + l);
            }
        }
        return out;
    }

    static String describe(List<Comparison> cs) {
        StringBuilder sb = new StringBuilder();
        for (Comparison c : cs) {
            sb.append(String.format("  %-45s vhv %-4s  jvmm %-18s %s%n", l(c.vhv().check()), c.vhv().result(),
                    c.jvmmCheck() + "=" + (c.jvmmPass() ? "pass" : "not pass"),
                    c.agrees() ? "agree" : "DIFFER" + (c.knownDifference() != null ? " (known: "
                            + c.knownDifference() + ")" : "")));
        }
        return sb.toString();
    }

    private static String l(String s) {
        return s.length() > 45 ? s.substring(0, 45) : s;
    }
}

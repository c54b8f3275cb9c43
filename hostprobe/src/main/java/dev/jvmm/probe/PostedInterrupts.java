package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Whether a passed-through device's interrupts can reach a running vCPU without the host: the one place that decides
 * it, for {@code jvmm probe} (check {@value #CHECK_ID}) and for the launch log of a VM with a VFIO device.
 *
 * <p>jvmm hands a device's VFIO eventfd to KVM as an irqfd, so an interrupt never passes through jvmm's own threads.
 * How far it gets past the host kernel depends on two halves that must belong to the same vendor:
 * <ul>
 * <li>the CPU's virtual APIC, as KVM runs it: Intel APICv ({@code kvm_intel enable_apicv}) or AMD AVIC
 * ({@code kvm_amd avic}); with it KVM delivers an irqfd interrupt to a running vCPU by a posted-interrupt IPI, without
 * a VM exit;</li>
 * <li>the IOMMU's interrupt posting, on top of interrupt remapping: VT-d posted interrupts (capability register bit
 * 59, PI, on every DMAR unit, and {@code cx16} on the CPU) or AMD-Vi guest virtual APIC mode (extended feature
 * register GASup, bit 7, and GAMSup vAPIC, bit 21, on every unit). With both, KVM's IRQ bypass turns the device's
 * remapping entry into a posted one, and the IOMMU writes the interrupt into the vCPU's virtual APIC itself.</li>
 * </ul>
 * The kernel turns posting off with {@code intremap=nopost} (Intel) or {@code amd_iommu_intr=legacy} (AMD); kernels
 * that have it report KVM's own answer in the module parameter {@code enable_device_posted_irqs}.
 *
 * @param answer   the verdict
 * @param reason   why, in one sentence
 * @param remedy   what would make it better; empty when {@link Answer#POSTED}
 * @param evidence what was read, in order; the last item is {@code answer}
 */
public record PostedInterrupts(Answer answer, String reason, String remedy, List<Evidence> evidence) {
    /** The probe check this answer is reported as. */
    public static final String CHECK_ID = "iommu.posted-interrupts";

    /** VT-d capability register: PI, posted interrupts supported (bit 59). */
    static final long VTD_CAP_PI = 1L << 59;
    /** VT-d extended capability register: IR, interrupt remapping supported (bit 3). */
    static final long VTD_ECAP_IR = 1L << 3;
    /** AMD-Vi extended feature register: GASup, guest virtual APIC (128-bit IRTE) supported (bit 7). */
    static final long AMD_EFR_GA = 1L << 7;
    /** AMD-Vi extended feature register: GAMSup vAPIC, guest virtual APIC mode that posts to AVIC (bit 21). */
    static final long AMD_EFR_GAM_VAPIC = 1L << 21;

    /** How far a device interrupt gets on this host. */
    public enum Answer {
        /** The IOMMU posts it straight into a running vCPU: no host interrupt, no VM exit. */
        POSTED("yes"),
        /**
         * The host takes the interrupt, and KVM posts it to the vCPU through the CPU's virtual APIC (APICv/AVIC):
         * a host interrupt and an IPI, but no VM exit of a running vCPU and no trip through jvmm.
         */
        PARTLY("partly"),
        /** The host takes it and KVM injects it with a VM exit of the vCPU (still never through jvmm's threads). */
        NO("no"),
        /** What the host shows cannot be read or makes no sense; the reason says what. */
        UNKNOWN("unknown");

        private final String word;

        Answer(String word) {
            this.word = word;
        }

        /** {@code yes}, {@code partly}, {@code no} or {@code unknown}: the JSON value and the lab's word. */
        public String word() {
            return word;
        }
    }

    public PostedInterrupts {
        evidence = List.copyOf(evidence);
        remedy = remedy == null ? "" : remedy;
    }

    /** One line for a launch log: {@code device interrupts bypass the VMM: partly — <reason>; to improve: <remedy>}. */
    public String line() {
        String head = switch (answer) {
            case POSTED -> "yes, posted by the IOMMU to running vCPUs";
            case PARTLY -> "partly";
            case NO -> "no";
            case UNKNOWN -> "unknown";
        };
        return "device interrupts bypass the VMM: " + head + " \u2014 " + reason
                + (remedy.isEmpty() ? "" : "; to improve: " + remedy);
    }

    /** This host's answer, from /sys and /proc only (no ioctl, no root): milliseconds. */
    public static PostedInterrupts host() {
        return of(Roots.host());
    }

    /** The answer for the host under {@code roots}. Never throws for odd sysfs: that is {@link Answer#UNKNOWN}. */
    public static PostedInterrupts of(Roots roots) {
        return of(new ProbeContext(new HostView(roots), ProbeOptions.defaults(), null));
    }

    private enum Vendor { INTEL, AMD, NONE, OTHER, MIXED }

    /** A three-way fact: on, off, or not readable (with why). */
    private record Tri(Boolean on, String why) {
        static Tri of(boolean b) {
            return new Tri(b, null);
        }

        static Tri unknown(String why) {
            return new Tri(null, why);
        }

        boolean yes() {
            return Boolean.TRUE.equals(on);
        }

        boolean no() {
            return Boolean.FALSE.equals(on);
        }

        Tri withWhy(String w) {
            return new Tri(on, w);
        }
    }

    static PostedInterrupts of(ProbeContext c) {
        HostView h = c.h;
        List<Evidence> ev = new ArrayList<>();
        String cpuinfo = h.show(h.proc("cpuinfo"));

        // --- the CPU half: which virtual APIC KVM runs ---
        boolean vmx = c.cpuFlags.contains("vmx");
        boolean svm = c.cpuFlags.contains("svm");
        if (vmx && svm) { // not seen on real CPUs; go by the KVM module that is there
            vmx = c.moduleLoaded("kvm_intel") || !c.moduleLoaded("kvm_amd");
            svm = !vmx;
        }
        Vendor cpu = vmx ? Vendor.INTEL : svm ? Vendor.AMD : Vendor.NONE;
        ev.add(ev(cpuinfo + " flags", vmx ? "vmx (Intel VT-x)" : svm ? "svm (AMD-V)" : "neither vmx nor svm"));
        Tri apicv = Tri.unknown("no VT-x/AMD-V");
        boolean cpuCanApicv = false;
        if (cpu == Vendor.INTEL) {
            Optional<String> vmxFlags = vmxFlags(h.read(h.proc("cpuinfo")).orElse(""));
            cpuCanApicv = vmxFlags.map(f -> (" " + f + " ").contains(" posted_intr ")).orElse(false);
            ev.add(ev(cpuinfo + " vmx flags", vmxFlags.map(f -> (" " + f + " ").contains(" posted_intr ")
                    ? "posted_intr (the CPU can post interrupts to vCPUs)" : "no posted_intr (the CPU has no APICv)")
                    .orElse("absent (a kernel before 5.8 does not list VMX features)")));
            apicv = param(c, ev, "kvm_intel", "enable_apicv");
        } else if (cpu == Vendor.AMD) {
            cpuCanApicv = c.cpuFlags.contains("avic");
            ev.add(ev(cpuinfo + " avic flag", cpuCanApicv ? "present (the CPU has AVIC)" : "absent (the CPU has no AVIC)"));
            apicv = param(c, ev, "kvm_amd", "avic");
        }

        // --- the IOMMU half: which IOMMU, and whether it can post ---
        List<String> units = h.list(h.sys("class/iommu"));
        List<String> intelUnits = new ArrayList<>();
        List<String> amdUnits = new ArrayList<>();
        for (String u : units) {
            if (h.isDirectory(h.sys("class/iommu/" + u + "/intel-iommu"))) {
                intelUnits.add(u);
            } else if (h.isDirectory(h.sys("class/iommu/" + u + "/amd-iommu"))) {
                amdUnits.add(u);
            }
        }
        Vendor iommu = units.isEmpty() ? Vendor.NONE
                : !intelUnits.isEmpty() && !amdUnits.isEmpty() ? Vendor.MIXED
                : !intelUnits.isEmpty() ? Vendor.INTEL : !amdUnits.isEmpty() ? Vendor.AMD : Vendor.OTHER;
        ev.add(ev(h.show(h.sys("class/iommu")), units.isEmpty() ? "empty (no IOMMU enabled)"
                : String.join(" ", units) + " (" + switch (iommu) {
                    case INTEL -> "Intel VT-d";
                    case AMD -> "AMD-Vi";
                    case MIXED -> "Intel and AMD units";
                    default -> "neither Intel VT-d nor AMD-Vi";
                } + ")"));
        Tri canPost = Tri.unknown("no IOMMU");
        if (iommu == Vendor.INTEL) {
            canPost = intelPosting(c, intelUnits, ev);
        } else if (iommu == Vendor.AMD) {
            canPost = amdPosting(c, amdUnits, ev);
        } else if (iommu == Vendor.OTHER || iommu == Vendor.MIXED) {
            canPost = Tri.of(false);
        }
        long irLines = IommuChecks.remappedInterruptLines(h);
        ev.add(ev(h.show(h.proc("interrupts")), irLines > 0 ? irLines + " lines through IR-* chips (interrupt"
                + " remapping in use)" : "no IR-* chips (interrupt remapping not in use)"));
        Tri kvmSays = kvmDevicePostedIrqs(c, ev);

        // --- the answer ---
        String cpuName = cpu == Vendor.INTEL ? "APICv" : "AVIC";
        String module = cpu == Vendor.INTEL ? "kvm_intel" : "kvm_amd";
        String enable = cpu == Vendor.INTEL ? "enable_apicv=1" : "avic=1";
        PostedInterrupts r;
        if (cpu == Vendor.NONE) {
            r = new PostedInterrupts(Answer.NO, "the CPU shows no VT-x/AMD-V, so KVM runs no virtual APIC",
                    "a host with VT-x/AMD-V (see cpu.virt)", ev);
        } else if (apicv.on() == null) {
            r = new PostedInterrupts(Answer.UNKNOWN, cpuName + " state unknown: " + apicv.why(), "load " + module
                    + " and run the probe again", ev);
        } else if (apicv.no()) {
            String why = cpuName + " is off" + (cpuCanApicv ? "" : ", and this CPU has no " + cpuName)
                    + ", so KVM injects each interrupt with a VM exit";
            if (iommu != Vendor.NONE && iommu != cpu) {
                why += "; nor could this " + describe(iommu) + " IOMMU post to an " + describe(cpu) + " CPU's "
                        + cpuName;
            }
            String remedy = cpuCanApicv ? "reload " + module + " with " + enable + " (modprobe -r " + module
                    + "; modprobe " + module + " " + enable + ", or options " + module + " " + enable
                    + " in /etc/modprobe.d)" : cpu == Vendor.INTEL
                    ? "a CPU with APICv (VMX posted interrupts, posted_intr in the vmx flags of /proc/cpuinfo)"
                    : "a CPU with AVIC (the avic flag in /proc/cpuinfo), enabled in the firmware";
            if (!cpuCanApicv && c.cpuFlags.contains("hypervisor")) {
                remedy += "; this host is itself a VM, so its hypervisor decides what the virtual CPU offers";
            }
            r = new PostedInterrupts(Answer.NO, why, remedy, ev);
        } else {
            // APICv/AVIC on: at least "partly"; posted when the IOMMU of the same vendor posts
            String partly = "KVM posts irqfd interrupts to running vCPUs through " + cpuName + " (a host interrupt"
                    + " and an IPI, no VM exit)";
            if (iommu == Vendor.NONE) {
                r = new PostedInterrupts(Answer.NO, "no IOMMU is enabled, so no device can be passed through",
                        "enable the IOMMU (see iommu.enabled)", ev);
            } else if (iommu != cpu) {
                String pair = cpu == Vendor.INTEL ? "VT-d posted interrupts" : "AMD-Vi guest virtual APIC mode";
                r = new PostedInterrupts(Answer.PARTLY, partly + ", but the IOMMU is not the CPU's vendor ("
                        + describe(cpu) + " CPU, " + describe(iommu) + " IOMMU): " + cpuName + " takes posted"
                        + " device interrupts only from " + pair, "a host whose IOMMU matches its CPU (emulated"
                        + " hosts: QEMU " + (cpu == Vendor.INTEL ? "-device intel-iommu" : "-device amd-iommu")
                        + ")", ev);
            } else if (irLines == 0) {
                r = new PostedInterrupts(Answer.PARTLY, partly + ", but interrupt remapping is not in use, and"
                        + " posting is built on it", "turn interrupt remapping on (see iommu.interrupt-remapping)",
                        ev);
            } else if (canPost.on() == null) {
                r = new PostedInterrupts(Answer.UNKNOWN, "at least partly (" + partly + "); whether the IOMMU can"
                        + " post is unknown: " + canPost.why(), "check the IOMMU registers in the evidence", ev);
            } else if (canPost.no()) {
                r = new PostedInterrupts(Answer.PARTLY, partly + ", but " + canPost.why(), iommuRemedy(cpu,
                        canPost.why()), ev);
            } else if (kvmSays.no()) {
                r = new PostedInterrupts(Answer.PARTLY, partly + ", but KVM reports enable_device_posted_irqs=N",
                        "reload the KVM modules without enable_device_posted_irqs=0", ev);
            } else {
                r = new PostedInterrupts(Answer.POSTED, cpuName + " is on and the " + describe(iommu)
                        + " IOMMU posts device interrupts to running vCPUs", "", ev);
            }
        }
        List<Evidence> all = new ArrayList<>(r.evidence());
        all.add(ev("answer", r.answer().word()));
        return new PostedInterrupts(r.answer(), r.reason(), r.remedy(), all);
    }

    /** Adds this answer to a report as check {@value #CHECK_ID}. */
    void addTo(CheckList out, boolean iommuEnabled) {
        Status s = switch (answer) {
            case POSTED -> Status.PASS;
            case PARTLY -> Status.WARN;
            // with no IOMMU (or no VT-x/AMD-V) other checks already FAIL and carry the remedy
            case NO -> iommuEnabled ? Status.WARN : Status.INFO;
            case UNKNOWN -> Status.INFO;
        };
        String title = switch (answer) {
            case POSTED -> "Device interrupts can bypass the VMM: posted by the IOMMU to running vCPUs";
            case PARTLY -> "Device interrupts bypass the VMM only partly: " + reason;
            case NO -> "Device interrupts cannot bypass the host: " + reason;
            case UNKNOWN -> "Whether device interrupts can bypass the VMM is unknown: " + reason;
        };
        out.add(CHECK_ID, "iommu", s, title, remedy, evidence);
    }

    private static String describe(Vendor v) {
        return switch (v) {
            case INTEL -> "Intel";
            case AMD -> "AMD";
            case MIXED -> "mixed Intel/AMD";
            case OTHER -> "non-x86 (e.g. virtio-iommu)";
            case NONE -> "no";
        };
    }

    private static String iommuRemedy(Vendor v, String why) {
        if (why.contains("intremap=nopost")) {
            return "remove intremap=nopost from the kernel command line";
        }
        if (why.contains("amd_iommu_intr=legacy")) {
            return "remove amd_iommu_intr=legacy from the kernel command line (or set amd_iommu_intr=vapic)";
        }
        if (why.contains("cx16")) {
            return "a CPU with cmpxchg16b (cx16): the kernel needs it to update posted remapping entries";
        }
        return v == Vendor.INTEL ? "a platform whose VT-d units all support posted interrupts (capability bit 59),"
                + " with it enabled in the firmware" : "a platform whose AMD IOMMUs all support guest virtual APIC"
                + " mode (GASup and GAMSup vAPIC), with it enabled in the firmware";
    }

    /** {@code Y}/{@code 1} on, {@code N}/{@code 0} off, the rest unknown; adds the evidence line. */
    private static Tri param(ProbeContext c, List<Evidence> ev, String module, String name) {
        HostView h = c.h;
        Path p = h.sys("module/" + module + "/parameters/" + name);
        Optional<String> v = h.line(p);
        if (v.isEmpty()) {
            Optional<String> err = h.readError(p);
            String why = err.isPresent() ? h.show(p) + " cannot be read (" + err.get() + ")"
                    : !c.moduleLoaded(module) ? module + " is not loaded" : h.show(p) + " is missing";
            ev.add(ev(h.show(p), err.isPresent() ? "unreadable: " + err.get() : "absent"));
            return Tri.unknown(why);
        }
        ev.add(ev(h.show(p), v.get()));
        return switch (v.get().toUpperCase(Locale.ROOT)) {
            case "Y", "1" -> Tri.of(true);
            case "N", "0" -> Tri.of(false);
            default -> Tri.unknown(h.show(p) + " reads '" + v.get() + "', not Y/N/1/0");
        };
    }

    /** KVM's own answer, where the kernel has it (6.17 and later): {@code enable_device_posted_irqs}. */
    private static Tri kvmDevicePostedIrqs(ProbeContext c, List<Evidence> ev) {
        HostView h = c.h;
        for (String m : List.of("kvm_intel", "kvm_amd", "kvm")) {
            Path p = h.sys("module/" + m + "/parameters/enable_device_posted_irqs");
            Optional<String> v = h.line(p);
            if (v.isPresent()) {
                ev.add(ev(h.show(p), v.get()));
                String t = v.get().toUpperCase(Locale.ROOT);
                return t.equals("N") || t.equals("0") ? Tri.of(false) : t.equals("Y") || t.equals("1") ? Tri.of(true)
                        : Tri.unknown(h.show(p) + " reads '" + v.get() + "'");
            }
        }
        return Tri.unknown("not reported by this kernel");
    }

    /** VT-d: every DMAR unit needs PI (cap bit 59); the CPU needs cx16; {@code intremap=nopost} turns it off. */
    private static Tri intelPosting(ProbeContext c, List<String> units, List<Evidence> ev) {
        HostView h = c.h;
        List<String> without = new ArrayList<>();
        String unreadable = null;
        for (String u : units) {
            Path cap = h.sys("class/iommu/" + u + "/intel-iommu/cap");
            Optional<Long> v = hexRegister(h, cap);
            if (v.isEmpty()) {
                ev.add(ev(h.show(cap), describeUnreadable(h, cap)));
                unreadable = unreadable == null ? h.show(cap) + " " + describeUnreadable(h, cap) : unreadable;
                continue;
            }
            boolean pi = (v.get() & VTD_CAP_PI) != 0;
            ev.add(ev(h.show(cap), Long.toHexString(v.get()) + " (PI bit 59 " + (pi ? "set" : "clear") + ")"));
            if (!pi) {
                without.add(u);
            }
            Path ecap = h.sys("class/iommu/" + u + "/intel-iommu/ecap");
            hexRegister(h, ecap).ifPresent(e -> ev.add(ev(h.show(ecap), Long.toHexString(e) + " (IR bit 3 "
                    + ((e & VTD_ECAP_IR) != 0 ? "set" : "clear") + ")")));
        }
        List<String> intremap = cmdlineWords(c, "intremap");
        if (!intremap.isEmpty()) {
            ev.add(ev(h.show(h.proc("cmdline")) + " intremap", String.join(",", intremap)));
        }
        c.cmdlineValue("intel_iommu").ifPresent(v -> ev.add(ev(h.show(h.proc("cmdline")) + " intel_iommu", v)));
        boolean cx16 = c.cpuFlags.contains("cx16");
        if (!cx16) {
            ev.add(ev(h.show(h.proc("cpuinfo")) + " cx16 flag", "absent"));
        }
        if (!without.isEmpty()) {
            return Tri.of(false).withWhy("the VT-d unit" + (without.size() > 1 ? "s " : " ") + String.join(" ",
                    without) + " cannot post interrupts (capability PI bit 59 clear)");
        }
        if (intremap.contains("nopost")) {
            return Tri.of(false).withWhy("the kernel command line turns posting off (intremap=nopost)");
        }
        if (!cx16) {
            return Tri.of(false).withWhy("the CPU has no cx16 (cmpxchg16b), which the kernel needs to post");
        }
        if (unreadable != null) {
            return Tri.unknown(unreadable);
        }
        return Tri.of(true);
    }

    /** AMD-Vi: every unit needs GASup (EFR bit 7) and GAMSup vAPIC (bit 21); {@code amd_iommu_intr=legacy} turns it off. */
    private static Tri amdPosting(ProbeContext c, List<String> units, List<Evidence> ev) {
        HostView h = c.h;
        List<String> without = new ArrayList<>();
        String unreadable = null;
        for (String u : units) {
            Path f = h.sys("class/iommu/" + u + "/amd-iommu/features");
            // "EFR" on older kernels, "EFR2:EFR" on newer ones: the extended feature register is the last field
            Optional<Long> v = h.line(f).map(s -> s.substring(s.lastIndexOf(':') + 1))
                    .flatMap(s -> s.isEmpty() ? Optional.empty() : HostView.parseNumber("0x" + s));
            if (v.isEmpty()) {
                ev.add(ev(h.show(f), describeUnreadable(h, f)));
                unreadable = unreadable == null ? h.show(f) + " " + describeUnreadable(h, f) : unreadable;
                continue;
            }
            boolean ga = (v.get() & AMD_EFR_GA) != 0;
            boolean vapic = (v.get() & AMD_EFR_GAM_VAPIC) != 0;
            ev.add(ev(h.show(f), h.line(f).orElse("") + " (EFR " + Long.toHexString(v.get()) + ": GASup bit 7 "
                    + (ga ? "set" : "clear") + ", GAMSup vAPIC bit 21 " + (vapic ? "set" : "clear") + ")"));
            if (!ga || !vapic) {
                without.add(u);
            }
        }
        Optional<String> intr = c.cmdlineValue("amd_iommu_intr");
        intr.ifPresent(v -> ev.add(ev(h.show(h.proc("cmdline")) + " amd_iommu_intr", v)));
        if (!without.isEmpty()) {
            return Tri.of(false).withWhy("the AMD-Vi unit" + (without.size() > 1 ? "s " : " ") + String.join(" ",
                    without) + " cannot post to AVIC (GASup bit 7 or GAMSup vAPIC bit 21 clear)");
        }
        if (intr.map(s -> s.startsWith("legacy")).orElse(false)) {
            return Tri.of(false).withWhy("the kernel command line keeps the IOMMU in legacy interrupt mode"
                    + " (amd_iommu_intr=legacy)");
        }
        if (unreadable != null) {
            return Tri.unknown(unreadable);
        }
        return Tri.of(true);
    }

    /** A sysfs register printed as hex without 0x ({@code cap}, {@code ecap}); empty when missing or not hex. */
    private static Optional<Long> hexRegister(HostView h, Path p) {
        return h.line(p).flatMap(s -> s.isEmpty() || s.startsWith("0x") ? Optional.empty()
                : HostView.parseNumber("0x" + s));
    }

    private static String describeUnreadable(HostView h, Path p) {
        Optional<String> err = h.readError(p);
        if (err.isPresent()) {
            return "unreadable: " + err.get();
        }
        return h.line(p).map(s -> "not a hex register: '" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "'")
                .orElse("absent");
    }

    /** The comma-separated words of {@code key=} on the command line ({@code intremap=on,nopost}), all of them. */
    private static List<String> cmdlineWords(ProbeContext c, String key) {
        List<String> out = new ArrayList<>();
        for (String t : c.cmdline) {
            if (t.startsWith(key + "=")) {
                for (String w : t.substring(key.length() + 1).split(",")) {
                    if (!w.isEmpty()) {
                        out.add(w);
                    }
                }
            }
        }
        return out;
    }

    /** The {@code vmx flags} line of the first CPU in /proc/cpuinfo (kernel 5.8 and later), or empty. */
    static Optional<String> vmxFlags(String cpuinfo) {
        for (String line : cpuinfo.split("\n")) {
            int c = line.indexOf(':');
            if (c > 0 && line.substring(0, c).trim().equals("vmx flags")) {
                return Optional.of(line.substring(c + 1).trim());
            }
        }
        return Optional.empty();
    }
}

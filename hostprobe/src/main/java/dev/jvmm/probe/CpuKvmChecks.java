package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/** CPU virtualization flags, /dev/kvm, KVM API and capabilities, KVM speed, nested virtualization. */
final class CpuKvmChecks {
    private CpuKvmChecks() {
    }

    /**
     * Where jvmm can run when this host cannot have a hardware-assisted /dev/kvm: the remedy of a VM without
     * VT-x/AMD-V and of a kvm-pvm guest.
     */
    private static final String ELSEWHERE = "run jvmm on a host with VT-x/AMD-V (bare metal, or a VM whose hypervisor"
            + " enables nested virtualization, e.g. QEMU -cpu host with kvm_intel nested=1 / kvm_amd nested=1 on the"
            + " outer host), or run jvmm's tests and demo in the lab (jvmm lab), which boots an emulated host with"
            + " nested KVM";

    /** The kernel log lines of the KVM modules ({@code kvm-pvm: this kernel is itself a kvm-pvm guest; ...}). */
    private static final Pattern KVM_LOG = Pattern.compile("^(kvm|kvm[-_](pvm|intel|amd)): .*");
    /** What kvm_pvm logs when it refuses to bind because the kernel itself runs under PVM. */
    private static final String PVM_GUEST_LOG = "is itself a kvm-pvm guest";

    static void run(ProbeContext c, CheckList out) {
        HostView h = c.h;
        String cpuinfo = h.show(h.proc("cpuinfo"));
        boolean vmx = c.cpuFlags.contains("vmx");
        boolean svm = c.cpuFlags.contains("svm");
        boolean vm = c.cpuFlags.contains("hypervisor");
        List<String> kvmModules = new ArrayList<>();
        for (String m : List.of("kvm", "kvm_intel", "kvm_amd", "kvm_pvm")) {
            if (c.moduleLoaded(m)) {
                kvmModules.add(m);
            }
        }
        Path devKvm = h.dev("kvm");
        boolean exists = h.exists(devKvm);
        List<Evidence> ev = new ArrayList<>();
        ev.add(ev(cpuinfo + " flags", vmx ? "vmx" : svm ? "svm" : "neither vmx nor svm"));
        ev.add(ev(cpuinfo + " hypervisor flag", vm ? "present (this host is a VM)" : "absent"));
        ev.add(ev("KVM modules (loaded or built in)", kvmModules.isEmpty() ? "none" : String.join(", ",
                kvmModules)));

        // No /dev/kvm on a VM without VT-x/AMD-V: nothing to load, and the remedy lies outside this host. A
        // kvm-pvm guest (kvm_pvm present, or its refusal in the kernel log) is told so by name.
        boolean noKvmNoVirt = !exists && !vmx && !svm;
        List<Evidence> guest = new ArrayList<>();
        boolean pvmGuest = false;
        if (noKvmNoVirt) {
            Path pvmModule = h.sys("module/kvm_pvm");
            if (h.isDirectory(pvmModule)) {
                guest.add(ev(h.show(pvmModule), "present (kvm_pvm is loaded or built in)"));
            }
            Optional<List<String>> log = h.kernelLog();
            List<String> kvmLines = log.orElse(List.of()).stream().filter(l -> KVM_LOG.matcher(l).matches())
                    .limit(5).toList();
            String unreadable = "not readable by this user" + (h.line(h.proc("sys/kernel/dmesg_restrict"))
                    .orElse("").equals("1") ? " (kernel.dmesg_restrict=1)" : "");
            guest.add(ev(h.show(h.dev("kmsg")) + " KVM lines", log.isEmpty()
                    ? (h.exists(h.dev("kmsg")) ? unreadable : "absent")
                    : kvmLines.isEmpty() ? "none" : String.join(" | ", kvmLines)));
            pvmGuest = kvmLines.stream().anyMatch(l -> l.contains(PVM_GUEST_LOG))
                    || (vm && kvmModules.contains("kvm_pvm"));
        }

        if (vmx || svm) {
            out.add("cpu.virt", "cpu", Status.PASS, "Hardware virtualization: " + (vmx ? "Intel VT-x (vmx)"
                    : "AMD-V (svm)"), "", ev);
        } else {
            String title = "No hardware virtualization (no vmx/svm in CPU flags)";
            if (exists) {
                title += kvmModules.contains("kvm_pvm")
                        ? "; /dev/kvm comes from kvm_pvm, which runs guests without VT-x/AMD-V"
                        : "; /dev/kvm exists anyway";
            } else if (pvmGuest) {
                title += "; this host is itself a kvm-pvm guest";
            }
            out.add("cpu.virt", "cpu", Status.FAIL, title, vm ? "This host is a VM: " + ELSEWHERE
                    : "Enable VT-x/AMD-V in the firmware (a CPU without them cannot run KVM guests at hardware"
                            + " speed), or run jvmm's tests and demo in the lab (jvmm lab)", ev);
        }

        // /dev/kvm exists and is accessible (virt-host-validate's two checks, as one)
        List<Evidence> dev = new ArrayList<>();
        dev.add(ev(h.show(devKvm), exists ? "exists" : "missing"));
        if (pvmGuest) {
            dev.addAll(ev);
            dev.addAll(guest);
            out.add("kvm.device", "kvm", Status.FAIL, "/dev/kvm does not exist: this host is itself a paravirtualised"
                    + " (kvm-pvm) guest, and KVM does not bind inside one", "Nothing on this host can create"
                    + " /dev/kvm (kvm_pvm does not run guests inside a kvm-pvm guest, and without VT-x/AMD-V"
                    + " kvm_intel/kvm_amd cannot either): " + ELSEWHERE, dev);
        } else if (noKvmNoVirt && vm) {
            dev.addAll(ev);
            dev.addAll(guest);
            out.add("kvm.device", "kvm", Status.FAIL, "/dev/kvm does not exist: this host is a VM whose CPU shows"
                    + " no VT-x/AMD-V, so KVM has no hardware to run guests with", "No module can help while the"
                    + " CPU shows no VT-x/AMD-V: " + ELSEWHERE, dev);
        } else if (!exists) {
            dev.addAll(ev);
            dev.addAll(c.moduleEvidence());
            out.add("kvm.device", "kvm", Status.FAIL, "/dev/kvm does not exist", missingKvmRemedy(c, vmx, svm,
                    kvmModules), dev);
        } else if (!h.readableWritable(devKvm)) {
            dev.add(ev("access(R_OK|W_OK)", "denied for this user"));
            out.add("kvm.device", "kvm", Status.FAIL, "/dev/kvm is not accessible to this user",
                    "Add the user to the group owning /dev/kvm (usually kvm) or run as root", dev);
        } else {
            dev.add(ev("access(R_OK|W_OK)", "granted"));
            out.add("kvm.device", "kvm", Status.PASS, "/dev/kvm exists and is accessible", "", dev);
        }
        if (!exists || !h.readableWritable(devKvm)) {
            return;
        }

        KvmFacts k = c.kvm();
        if (k.openError() != null) {
            out.add("kvm.api-version", "kvm", Status.FAIL, "Cannot use /dev/kvm: " + k.openError(),
                    "Check that the KVM module loaded without errors (dmesg)", List.of(ev("open(/dev/kvm)",
                            k.openError())));
            return;
        }
        List<Evidence> api = List.of(ev("KVM_GET_API_VERSION", k.apiVersion()));
        if (k.apiVersion() == 12) {
            out.add("kvm.api-version", "kvm", Status.PASS, "KVM API version 12", "", api);
        } else {
            out.add("kvm.api-version", "kvm", Status.FAIL, "KVM API version " + k.apiVersion() + ", jvmm needs 12",
                    "Use a kernel with the stable KVM API (any Linux since 2.6.22)", api);
        }

        List<Evidence> caps = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String name : DevKvm.REQUIRED_CAPS.keySet()) {
            int v = k.capabilities().getOrDefault(name, 0);
            caps.add(ev("KVM_CHECK_EXTENSION(" + name + ")", v));
            if (v <= 0) {
                missing.add(name);
            }
        }
        for (var e : k.capabilities().entrySet()) {
            if (!DevKvm.REQUIRED_CAPS.containsKey(e.getKey())) {
                caps.add(ev("KVM_CHECK_EXTENSION(" + e.getKey() + ") [optional]", e.getValue()));
            }
        }
        if (missing.isEmpty()) {
            out.add("kvm.capabilities", "kvm", Status.PASS, "All " + DevKvm.REQUIRED_CAPS.size()
                    + " KVM capabilities jvmm needs are present", "", caps);
        } else {
            out.add("kvm.capabilities", "kvm", Status.FAIL, "KVM lacks " + String.join(", ", missing),
                    "Use a newer host kernel with the in-kernel irqchip (x86 KVM has had these since 3.x)", caps);
        }

        speed(c, k, out);
        nested(c, k, out);
    }

    /** /dev/kvm missing on a host that is not a VM without VT-x/AMD-V: load the vendor module, if that can help. */
    private static String missingKvmRemedy(ProbeContext c, boolean vmx, boolean svm, List<String> kvmModules) {
        if (!vmx && !svm) {
            return "Enable VT-x/AMD-V in the firmware. Then: " + c.loadRemedy("modprobe kvm_intel or kvm_amd (it"
                    + " loads kvm too)", "KVM", "CONFIG_KVM=y with CONFIG_KVM_INTEL=y or CONFIG_KVM_AMD=y");
        }
        String module = vmx ? "kvm_intel" : "kvm_amd";
        if (kvmModules.contains(module)) {
            return module + " is loaded but /dev/kvm is missing: in a container, pass the host's /dev/kvm in (e.g."
                    + " docker run --device /dev/kvm); otherwise see the kernel log (dmesg) for why " + module
                    + " did not register it";
        }
        return c.loadRemedy("modprobe " + module + " (it loads kvm too); if it fails, enable "
                + (vmx ? "VT-x" : "AMD-V") + " in the firmware", "KVM", "CONFIG_KVM=y, CONFIG_"
                + module.toUpperCase(Locale.ROOT) + "=y");
    }

    private static void speed(ProbeContext c, KvmFacts k, CheckList out) {
        if (!c.options.measureKvmSpeed()) {
            out.add("kvm.speed", "kvm", Status.INFO, "KVM speed not measured (--no-kvm-speed)", "", List.of());
            return;
        }
        if (k.speed() == null) {
            out.add("kvm.speed", "kvm", Status.WARN, "Could not time a guest: " + k.speedError(),
                    "Run with --debug; a KVM that cannot run a 10-byte long-mode loop will not run a VM",
                    List.of(ev("speed-test guest", String.valueOf(k.speedError()))));
            return;
        }
        KvmSpeed.Result s = k.speed();
        List<Evidence> ev = List.of(
                ev("guest loop (dec ecx; jnz) instructions", s.instructions()),
                ev("KVM_RUN wall time", String.format(Locale.ROOT, "%.3f ms", s.nanos() / 1e6)),
                ev("instructions per second", String.format(Locale.ROOT, "%.3g", s.instructionsPerSecond())),
                ev("calibration rounds", s.rounds()));
        String rate = String.format(Locale.ROOT, "%.2g instr/s", s.instructionsPerSecond());
        if (s.hardwareSpeed()) {
            out.add("kvm.speed", "kvm", Status.PASS, "KVM runs guest code at hardware speed (" + rate + ")", "", ev);
        } else {
            out.add("kvm.speed", "kvm", Status.WARN, "KVM emulates guest code (" + rate
                    + "): a stock Linux kernel will not boot at a usable speed",
                    "Use a host with VT-x/AMD-V exposed to it (bare metal, or nested virtualization on), or the lab"
                            + " (jvmm lab) for functional tests; expected at least "
                            + String.format(Locale.ROOT, "%.0g", KvmSpeed.HARDWARE_THRESHOLD) + " instr/s", ev);
        }
    }

    private static void nested(ProbeContext c, KvmFacts k, CheckList out) {
        HostView h = c.h;
        List<Evidence> ev = new ArrayList<>();
        String param = null;
        for (String m : List.of("kvm_intel", "kvm_amd")) {
            Path p = h.sys("module/" + m + "/parameters/nested");
            var v = h.line(p);
            if (v.isPresent()) {
                ev.add(ev(h.show(p), v.get()));
                param = v.get();
            }
        }
        if (param == null) {
            ev.add(ev("/sys/module/kvm_{intel,amd}/parameters/nested", "absent"));
        }
        ev.add(ev("KVM_GET_SUPPORTED_CPUID vmx/svm for guests", k.cpuidVmx() == null ? "unknown"
                : Boolean.TRUE.equals(k.cpuidVmx()) ? "vmx" : Boolean.TRUE.equals(k.cpuidSvm()) ? "svm" : "none"));
        boolean on = param != null && (param.equals("1") || param.equalsIgnoreCase("Y"));
        boolean cpuid = Boolean.TRUE.equals(k.cpuidVmx()) || Boolean.TRUE.equals(k.cpuidSvm());
        out.add("kvm.nested", "kvm", Status.INFO, on && cpuid ? "Nested virtualization available to guests"
                : "Nested virtualization not available to guests", "", ev);
    }
}

package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** CPU virtualization flags, /dev/kvm, KVM API and capabilities, KVM speed, nested virtualization. */
final class CpuKvmChecks {
    private CpuKvmChecks() {
    }

    static void run(ProbeContext c, CheckList out) {
        HostView h = c.h;
        String cpuinfo = h.show(h.proc("cpuinfo"));
        boolean vmx = c.cpuFlags.contains("vmx");
        boolean svm = c.cpuFlags.contains("svm");
        List<String> kvmModules = new ArrayList<>();
        for (String m : List.of("kvm", "kvm_intel", "kvm_amd", "kvm_pvm")) {
            if (c.moduleLoaded(m)) {
                kvmModules.add(m);
            }
        }
        Path devKvm = h.dev("kvm");
        List<Evidence> ev = new ArrayList<>();
        ev.add(ev(cpuinfo + " flags", vmx ? "vmx" : svm ? "svm" : "neither vmx nor svm"));
        ev.add(ev(cpuinfo + " hypervisor flag", c.cpuFlags.contains("hypervisor") ? "present (this host is a VM)"
                : "absent"));
        ev.add(ev("loaded KVM modules", kvmModules.isEmpty() ? "none" : String.join(", ", kvmModules)));
        if (vmx || svm) {
            out.add("cpu.virt", "cpu", Status.PASS, "Hardware virtualization: " + (vmx ? "Intel VT-x (vmx)"
                    : "AMD-V (svm)"), "", ev);
        } else {
            String title = "No hardware virtualization (no vmx/svm in CPU flags)";
            if (h.exists(devKvm)) {
                title += kvmModules.contains("kvm_pvm")
                        ? "; /dev/kvm comes from kvm_pvm, which runs guests without VT-x/AMD-V"
                        : "; /dev/kvm exists anyway";
            }
            out.add("cpu.virt", "cpu", Status.FAIL, title,
                    "Enable VT-x/AMD-V in the firmware; on a VM, give it nested virtualization (e.g. QEMU -cpu host"
                            + " with kvm_intel nested=1 / kvm_amd nested=1 on the outer host)", ev);
        }

        // /dev/kvm exists and is accessible (virt-host-validate's two checks, as one)
        List<Evidence> dev = new ArrayList<>();
        boolean exists = h.exists(devKvm);
        dev.add(ev(h.show(devKvm), exists ? "exists" : "missing"));
        if (!exists) {
            out.add("kvm.device", "kvm", Status.FAIL, "/dev/kvm does not exist",
                    "Load kvm_intel or kvm_amd (modprobe kvm_amd) and enable virtualization in the firmware", dev);
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

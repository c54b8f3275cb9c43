package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** What every check shares: the host view, the options, and facts read once. */
final class ProbeContext {
    final HostView h;
    final ProbeOptions options;
    final Set<String> cpuFlags;
    final List<String> cmdline;
    final String kernelRelease;
    private final KvmAccess kvmAccess;
    private KvmFacts kvm;

    ProbeContext(HostView h, ProbeOptions options, KvmAccess kvmAccess) {
        this.h = h;
        this.options = options;
        this.kvmAccess = kvmAccess;
        this.cpuFlags = cpuFlags(h.read(h.proc("cpuinfo")).orElse(""));
        this.cmdline = tokens(h.line(h.proc("cmdline")).orElse(""));
        this.kernelRelease = h.line(h.proc("sys/kernel/osrelease")).orElse("");
    }

    /** The flags of the first CPU in /proc/cpuinfo ({@code flags : fpu vme ...}). */
    static Set<String> cpuFlags(String cpuinfo) {
        for (String line : cpuinfo.split("\n")) {
            int c = line.indexOf(':');
            if (c > 0 && line.substring(0, c).trim().equals("flags")) {
                return new LinkedHashSet<>(Arrays.asList(line.substring(c + 1).trim().split("\\s+")));
            }
        }
        return Set.of();
    }

    /** The kernel command line split on blanks, stopping at {@code --} (what follows belongs to init). */
    static List<String> tokens(String cmdline) {
        List<String> out = new ArrayList<>();
        for (String t : cmdline.trim().split("\\s+")) {
            if (t.equals("--")) {
                break;
            }
            if (!t.isEmpty()) {
                out.add(t);
            }
        }
        return out;
    }

    /** Value of {@code key=value} on the command line (last one wins, as in the kernel), or empty. */
    Optional<String> cmdlineValue(String key) {
        String v = null;
        for (String t : cmdline) {
            if (t.startsWith(key + "=")) {
                v = t.substring(key.length() + 1);
            }
        }
        return Optional.ofNullable(v);
    }

    boolean moduleLoaded(String name) {
        String n = name.replace('-', '_');
        if (h.isDirectory(h.sys("module/" + n))) {
            return true;
        }
        for (String line : h.read(h.proc("modules")).orElse("").split("\n")) {
            if (line.startsWith(n + " ")) {
                return true;
            }
        }
        return false;
    }

    /** The running kernel's module tree, {@code /lib/modules/$(uname -r)}: where modprobe looks for modules. */
    Path moduleTree() {
        return h.modules(kernelRelease);
    }

    /**
     * Whether modprobe can load anything: only when the running kernel's module tree exists. Without it (a VM
     * whose kernel the hypervisor supplies, a kernel built without module support) a missing feature must be
     * built into the kernel.
     */
    boolean canLoadModules() {
        return !kernelRelease.isEmpty() && h.isDirectory(moduleTree());
    }

    /**
     * What {@link #canLoadModules()} was decided from: the module tree, and when it is missing whether
     * {@code /proc/modules} exists (it does not on a kernel built without loadable-module support).
     */
    List<Evidence> moduleEvidence() {
        List<Evidence> ev = new ArrayList<>();
        ev.add(ev(h.show(moduleTree()), canLoadModules() ? "present" : "absent"));
        if (!canLoadModules()) {
            Path procModules = h.proc("modules");
            ev.add(ev(h.show(procModules), h.exists(procModules) ? "present"
                    : "absent (kernel without loadable-module support)"));
        }
        return ev;
    }

    /**
     * The remedy for a kernel feature that is missing: {@code modprobeAdvice} where modules can be loaded, else
     * that the feature has to be built into the kernel. The one place that decides whether modprobe is advised.
     *
     * @param modprobeAdvice what to do where modules load ({@code modprobe vhost_net})
     * @param feature        the feature, as people call it ({@code vhost-net})
     * @param config         the kernel options that build it in ({@code CONFIG_VHOST_NET=y})
     */
    String loadRemedy(String modprobeAdvice, String feature, String config) {
        if (canLoadModules()) {
            return modprobeAdvice;
        }
        String tree = h.show(moduleTree());
        if (!h.exists(h.proc("modules"))) {
            return "This kernel has no loadable modules (" + tree + " and /proc/modules are missing), so none can"
                    + " be loaded: " + feature + " must be built into the kernel (" + config + ") or provided by"
                    + " whoever supplies this kernel (the host or hypervisor)";
        }
        return "No module can be loaded here (" + tree + " is missing): install this kernel's modules there, or"
                + " use a kernel with " + feature + " built in (" + config + ")";
    }

    KvmFacts kvm() {
        if (kvm == null) {
            var dev = h.dev("kvm");
            kvm = h.exists(dev) ? kvmAccess.inspect(dev, options.measureKvmSpeed()) : KvmFacts.unopened(
                    h.show(dev) + " does not exist");
        }
        return kvm;
    }
}

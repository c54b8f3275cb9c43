package dev.jvmm.probe;

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

    KvmFacts kvm() {
        if (kvm == null) {
            var dev = h.dev("kvm");
            kvm = h.exists(dev) ? kvmAccess.inspect(dev, options.measureKvmSpeed()) : KvmFacts.unopened(
                    h.show(dev) + " does not exist");
        }
        return kvm;
    }
}

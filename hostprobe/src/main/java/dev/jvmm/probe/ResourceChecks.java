package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import dev.jvmm.sys.Sizes;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** RLIMIT_MEMLOCK against the guest RAM VFIO pins, hugepages per size, NUMA nodes. */
final class ResourceChecks {
    /** CAP_IPC_LOCK: VFIO type1 and iommufd skip the memlock limit for a caller that has it. */
    static final int CAP_IPC_LOCK = 14;

    private ResourceChecks() {
    }

    /** The soft "Max locked memory" of /proc/self/limits in bytes; -1 for unlimited; empty when unknown. */
    static Optional<Long> memlock(String limits) {
        for (String line : limits.split("\n")) {
            if (line.startsWith("Max locked memory")) {
                String[] f = line.substring("Max locked memory".length()).trim().split("\\s+");
                if (f.length > 0) {
                    return f[0].equals("unlimited") ? Optional.of(-1L) : HostView.parseNumber(f[0]);
                }
            }
        }
        return Optional.empty();
    }

    static Optional<Long> capEff(String status) {
        for (String line : status.split("\n")) {
            if (line.startsWith("CapEff:")) {
                return HostView.parseNumber("0x" + line.substring(7).trim());
            }
        }
        return Optional.empty();
    }

    static void run(ProbeContext c, CheckList out) {
        HostView h = c.h;
        long want = c.options.guestMemoryBytes();
        Path limits = h.proc("self/limits");
        Optional<Long> lim = memlock(h.read(limits).orElse(""));
        Optional<Long> caps = capEff(h.read(h.proc("self/status")).orElse(""));
        boolean ipcLock = caps.map(v -> (v & (1L << CAP_IPC_LOCK)) != 0).orElse(false);
        List<Evidence> ev = new ArrayList<>();
        ev.add(ev(h.show(limits) + " Max locked memory", lim.map(v -> v < 0 ? "unlimited" : Sizes.human(v))
                .orElse("unknown")));
        ev.add(ev(h.show(h.proc("self/status")) + " CapEff CAP_IPC_LOCK", caps.isEmpty() ? "unknown"
                : ipcLock ? "yes" : "no"));
        ev.add(ev("guest RAM to pin (--memory)", Sizes.human(want)));
        String remedy = "Raise the memlock limit to at least the guest RAM (ulimit -l, LimitMEMLOCK= in the systemd"
                + " unit, or /etc/security/limits.conf), or run with CAP_IPC_LOCK";
        if (ipcLock) {
            out.add("resources.memlock", "resources", Status.PASS, "CAP_IPC_LOCK held: VFIO may pin "
                    + Sizes.human(want) + " whatever RLIMIT_MEMLOCK says", "", ev);
        } else if (lim.isEmpty()) {
            out.add("resources.memlock", "resources", Status.WARN, "Cannot read RLIMIT_MEMLOCK", remedy, ev);
        } else if (lim.get() < 0 || lim.get() >= want) {
            out.add("resources.memlock", "resources", Status.PASS, "RLIMIT_MEMLOCK " + (lim.get() < 0 ? "unlimited"
                    : Sizes.human(lim.get())) + " covers " + Sizes.human(want) + " of guest RAM", "", ev);
        } else {
            out.add("resources.memlock", "resources", Status.FAIL, "RLIMIT_MEMLOCK " + Sizes.human(lim.get())
                    + " is below the " + Sizes.human(want) + " of guest RAM VFIO must pin", remedy, ev);
        }

        // hugepages
        Path hp = h.sys("kernel/mm/hugepages");
        List<Evidence> hev = new ArrayList<>();
        long bestFree = 0;
        for (String d : h.list(hp)) {
            if (!d.startsWith("hugepages-") || !d.endsWith("kB")) {
                continue;
            }
            long kb;
            try {
                kb = Long.parseLong(d.substring("hugepages-".length(), d.length() - 2));
            } catch (NumberFormatException e) {
                continue;
            }
            long total = h.number(hp.resolve(d + "/nr_hugepages")).orElse(0L);
            long free = h.number(hp.resolve(d + "/free_hugepages")).orElse(0L);
            hev.add(ev(h.show(hp.resolve(d)), Sizes.human(kb * 1024) + " pages: " + total + " total, " + free
                    + " free (" + Sizes.human(Math.max(free * kb * 1024, 0)) + ")"));
            bestFree = Math.max(bestFree, free * kb * 1024);
        }
        if (hev.isEmpty()) {
            out.add("resources.hugepages", "resources", Status.INFO, "No hugepage support visible", "",
                    List.of(ev(h.show(hp), "absent")));
        } else {
            out.add("resources.hugepages", "resources", Status.INFO, bestFree >= want
                    ? "Hugepages can back " + Sizes.human(want) + " of guest RAM"
                    : "Not enough free hugepages for " + Sizes.human(want) + " of guest RAM (4 KiB pages are used)",
                    "", hev);
        }

        // NUMA
        Path nodes = h.sys("devices/system/node");
        List<Evidence> nev = new ArrayList<>();
        int count = 0;
        for (String n : h.list(nodes)) {
            if (!n.matches("node\\d+")) {
                continue;
            }
            count++;
            String cpus = h.line(nodes.resolve(n + "/cpulist")).orElse("?");
            String mem = "?";
            for (String line : h.read(nodes.resolve(n + "/meminfo")).orElse("").split("\n")) {
                if (line.contains("MemTotal:")) {
                    String[] f = line.substring(line.indexOf("MemTotal:") + 9).trim().split("\\s+");
                    mem = HostView.parseNumber(f[0]).map(v -> Sizes.human(v * 1024)).orElse("?");
                }
            }
            nev.add(ev(h.show(nodes.resolve(n)), "cpus " + cpus + ", memory " + mem));
        }
        out.add("resources.numa", "resources", Status.INFO, count == 0 ? "NUMA topology not visible"
                : count + " NUMA node" + (count == 1 ? "" : "s"), "", nev);
    }
}

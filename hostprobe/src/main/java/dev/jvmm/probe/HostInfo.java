package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import dev.jvmm.sys.Sizes;
import java.util.ArrayList;
import java.util.List;

/**
 * Facts about the host: kernel, CPU model, logical CPUs and memory (oshi-core on the running host, /proc
 * otherwise), and whether it is itself a VM.
 *
 * @param kernel      kernel release
 * @param arch        {@code os.arch} on the running host, else empty
 * @param cpuModel    CPU model name
 * @param logicalCpus logical processors
 * @param memoryBytes physical memory
 * @param virtualized the CPU reports the {@code hypervisor} flag
 */
public record HostInfo(String kernel, String arch, String cpuModel, int logicalCpus, long memoryBytes,
        boolean virtualized) {

    static HostInfo read(ProbeContext c) {
        HostView h = c.h;
        String model = "";
        int cpus = 0;
        long mem = 0;
        String arch = "";
        if (h.roots().isHost()) {
            try {
                var hw = new oshi.SystemInfo().getHardware();
                model = hw.getProcessor().getProcessorIdentifier().getName().trim();
                cpus = hw.getProcessor().getLogicalProcessorCount();
                mem = hw.getMemory().getTotal();
                arch = System.getProperty("os.arch", "");
            } catch (Throwable t) { // oshi loads JNA; fall back to /proc when that fails
                model = "";
            }
        }
        String cpuinfo = h.read(h.proc("cpuinfo")).orElse("");
        if (model.isEmpty() || cpus == 0) {
            int n = 0;
            for (String line : cpuinfo.split("\n")) {
                if (line.startsWith("processor")) {
                    n++;
                }
                if (line.startsWith("model name") && model.isEmpty()) {
                    model = line.substring(line.indexOf(':') + 1).trim();
                }
            }
            cpus = n;
        }
        if (mem == 0) {
            for (String line : h.read(h.proc("meminfo")).orElse("").split("\n")) {
                if (line.startsWith("MemTotal:")) {
                    mem = HostView.parseNumber(line.substring(9).trim().split("\\s+")[0]).orElse(0L) * 1024;
                }
            }
        }
        return new HostInfo(c.kernelRelease, arch, model, cpus, mem, c.cpuFlags.contains("hypervisor"));
    }

    void check(ProbeContext c, CheckList out) {
        List<Evidence> ev = new ArrayList<>();
        ev.add(ev("kernel", kernel));
        ev.add(ev("cpu", cpuModel));
        ev.add(ev("logical cpus", logicalCpus));
        ev.add(ev("memory", Sizes.human(memoryBytes)));
        ev.add(ev("source", c.h.roots().isHost() ? "oshi-core and /proc" : "/proc"));
        out.add("host.info", "host", Status.INFO, (virtualized ? "Virtual machine" : "Host") + ": " + cpuModel + ", "
                + logicalCpus + " CPUs, " + Sizes.human(memoryBytes) + ", Linux " + kernel, "", ev);
    }
}

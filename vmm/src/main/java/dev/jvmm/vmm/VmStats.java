package dev.jvmm.vmm;

import dev.jvmm.core.Bus;
import dev.jvmm.sys.FileErrors;
import dev.jvmm.sys.json.Json;
import dev.jvmm.sys.kvm.ExitReason;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a VM's run cost in exits to userspace, for {@code jvmm launch --stats FILE}: per vCPU and exit reason, and
 * per device and region (each bus registration is {@code DEVICE-barN}, {@code DEVICE-barN+OFFSET} for a piece of a
 * BAR, or a plain device name). Every count is an access that left KVM for jvmm; what KVM handles itself (ioeventfd
 * doorbells, irqfd interrupts, a passed-through BAR mapped as memory) is never here, so a BAR with no entry took
 * no exits.
 *
 * <pre>{@code
 * {"vcpus": [{"id": 0, "exits": {"io": 5012, "mmio": 311, "hlt": 0}}],
 *  "devices": {"vfio-0": {"bar3": {"bus": "mmio", "reads": 2, "writes": 9}}, "serial-com1": {"": {"bus": "pio", ...}}},
 *  "total": {"io": 5012, "mmio": 311}}
 * }</pre>
 */
public final class VmStats {
    private static final Pattern BAR = Pattern.compile("(.+)-(bar\\d)(?:\\+[0-9a-f]+)?");

    private VmStats() {
    }

    /** The counts of a VM whose vCPUs have stopped, as a JSON-ready map. */
    public static Map<String, Object> collect(Vm vm) {
        Map<String, Object> out = new LinkedHashMap<>();
        List<Map<String, Object>> vcpus = new java.util.ArrayList<>();
        Map<String, Long> total = new TreeMap<>();
        for (Vcpu v : vm.vcpus()) {
            Map<String, Object> exits = new LinkedHashMap<>();
            for (Map.Entry<ExitReason, Long> e : v.exitCounts().entrySet()) {
                String k = e.getKey().name().toLowerCase(Locale.ROOT);
                exits.put(k, e.getValue());
                total.merge(k, e.getValue(), Long::sum);
            }
            vcpus.add(Map.of("id", (long) v.id(), "exits", exits));
        }
        out.put("vcpus", vcpus);
        Map<String, Map<String, Object>> devices = new TreeMap<>();
        add(devices, "pio", vm.pio());
        add(devices, "mmio", vm.mmio());
        out.put("devices", devices);
        out.put("total", total);
        return out;
    }

    private static void add(Map<String, Map<String, Object>> devices, String bus, Bus b) {
        for (Map.Entry<String, Bus.Exits> e : b.exitCounts().entrySet()) {
            Matcher m = BAR.matcher(e.getKey());
            String device = m.matches() ? m.group(1) : e.getKey();
            String region = m.matches() ? m.group(2) : bus;
            @SuppressWarnings("unchecked")
            Map<String, Object> r = (Map<String, Object>) devices.computeIfAbsent(device, k -> new TreeMap<>())
                    .computeIfAbsent(region, k -> new LinkedHashMap<>(Map.of("bus", bus, "reads", 0L, "writes", 0L)));
            r.put("reads", (Long) r.get("reads") + e.getValue().reads());
            r.put("writes", (Long) r.get("writes") + e.getValue().writes());
        }
    }

    /** Writes {@link #collect} to {@code file} (atomically: a temporary file renamed into place). */
    public static void write(Vm vm, Path file) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, Json.write(collect(vm)) + "\n");
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new VmmException(VmmException.Reason.HOST, "cannot write the --stats file " + file + " ("
                    + FileErrors.reason(e) + ")", e);
        }
    }
}

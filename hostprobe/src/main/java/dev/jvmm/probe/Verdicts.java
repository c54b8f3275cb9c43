package dev.jvmm.probe;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Which checks each use case depends on. A FAIL among them blocks the use case; a WARN is carried as a warning.
 * Checks that were not made (because an earlier one failed, e.g. KVM capabilities when /dev/kvm is missing) are
 * covered by the FAIL that stopped them.
 */
final class Verdicts {
    static final List<String> VIRTIO = List.of("cpu.virt", "kvm.device", "kvm.api-version", "kvm.capabilities",
            "kvm.speed", "devices.tun", "devices.vhost-net");
    static final List<String> PASSTHROUGH = List.of("iommu.acpi", "iommu.enabled", "iommu.interrupt-remapping",
            "iommu.acs", "vfio.modules", "vfio.container", "vfio.noiommu", "resources.memlock");
    static final List<String> SRIOV = List.of("sriov.devices");

    private Verdicts() {
    }

    static Map<UseCase, Verdict> of(List<Check> checks) {
        Map<UseCase, Verdict> m = new EnumMap<>(UseCase.class);
        m.put(UseCase.VIRTIO, verdict(UseCase.VIRTIO, checks, id -> VIRTIO.contains(id)));
        m.put(UseCase.PASSTHROUGH, verdict(UseCase.PASSTHROUGH, checks,
                id -> VIRTIO.contains(id) || PASSTHROUGH.contains(id)));
        m.put(UseCase.SRIOV, verdict(UseCase.SRIOV, checks, id -> VIRTIO.contains(id) || PASSTHROUGH.contains(id)
                || SRIOV.contains(id) || id.startsWith("sriov.pf[")));
        return m;
    }

    private static Verdict verdict(UseCase u, List<Check> checks, Predicate<String> relevant) {
        List<Verdict.Reason> blocking = new ArrayList<>();
        List<Verdict.Reason> warnings = new ArrayList<>();
        for (Check c : checks) {
            if (!relevant.test(c.id())) {
                continue;
            }
            if (c.status() == Status.FAIL) {
                blocking.add(new Verdict.Reason(c.id(), c.title()));
            } else if (c.status() == Status.WARN) {
                warnings.add(new Verdict.Reason(c.id(), c.title()));
            }
        }
        return new Verdict(u, blocking.isEmpty(), blocking, warnings);
    }
}

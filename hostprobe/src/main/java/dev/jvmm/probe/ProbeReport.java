package dev.jvmm.probe;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything one probe found: host facts, checks in order, the IOMMU groups and SR-IOV PFs it saw, the KVM
 * measurement, and a verdict per use case.
 */
public record ProbeReport(HostInfo host, List<Check> checks, Map<UseCase, Verdict> verdicts,
        List<IommuGroup> iommuGroups, List<SriovDevice> sriov, KvmSpeed.Result kvmSpeed, ProbeOptions options) {
    public ProbeReport {
        checks = List.copyOf(checks);
        verdicts = Map.copyOf(verdicts);
        iommuGroups = List.copyOf(iommuGroups);
        sriov = List.copyOf(sriov);
    }

    public Optional<Check> check(String id) {
        return checks.stream().filter(c -> c.id().equals(id)).findFirst();
    }

    public Verdict verdict(UseCase u) {
        return verdicts.get(u);
    }

    /** True when every use case in {@code required} is ready. */
    public boolean allReady(Iterable<UseCase> required) {
        for (UseCase u : required) {
            if (!verdicts.get(u).ready()) {
                return false;
            }
        }
        return true;
    }
}

package dev.jvmm.probe;

import java.util.List;
import java.util.Optional;

/**
 * The result of one check.
 *
 * @param id       stable identifier ({@code kvm.api-version}); part of the JSON schema
 * @param category one of {@code cpu}, {@code kvm}, {@code iommu}, {@code vfio}, {@code sriov}, {@code resources},
 *                 {@code devices}, {@code secure-guest}, {@code host}
 * @param status   the outcome
 * @param title    one line saying what was found
 * @param evidence what was read, in order
 * @param remedy   what to do about a WARN or FAIL; empty for PASS and INFO
 */
public record Check(String id, String category, Status status, String title, List<Evidence> evidence, String remedy) {
    public Check {
        evidence = List.copyOf(evidence);
        remedy = remedy == null ? "" : remedy;
    }

    /** The value of the first evidence item whose source equals {@code source}. */
    public Optional<String> evidence(String source) {
        return evidence.stream().filter(e -> e.source().equals(source)).map(Evidence::value).findFirst();
    }
}

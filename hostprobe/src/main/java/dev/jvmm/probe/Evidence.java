package dev.jvmm.probe;

/**
 * One thing a check read: where ({@code /sys/kernel/iommu_groups}, {@code KVM_CHECK_EXTENSION(KVM_CAP_IRQFD)})
 * and what it found.
 */
public record Evidence(String source, String value) {
    public Evidence {
        source = source == null ? "" : source;
        value = value == null ? "" : value;
    }
}

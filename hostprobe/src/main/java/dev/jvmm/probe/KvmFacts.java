package dev.jvmm.probe;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the probe learned by talking to {@code /dev/kvm}.
 *
 * @param openError     why /dev/kvm could not be opened, or null when it opened
 * @param apiVersion    KVM_GET_API_VERSION, or -1
 * @param capabilities  KVM_CHECK_EXTENSION result per capability name ({@code KVM_CAP_IRQFD} → 1)
 * @param cpuidVmx      KVM_GET_SUPPORTED_CPUID offers VMX (leaf 1 ECX bit 5) to guests; null when unknown
 * @param cpuidSvm      KVM_GET_SUPPORTED_CPUID offers SVM (leaf 0x80000001 ECX bit 2) to guests; null when unknown
 * @param speed         the guest-loop measurement, or null when not measured
 * @param speedError    why the measurement failed, or null
 */
public record KvmFacts(String openError, int apiVersion, Map<String, Integer> capabilities, Boolean cpuidVmx,
        Boolean cpuidSvm, KvmSpeed.Result speed, String speedError) {
    public KvmFacts {
        capabilities = capabilities == null ? Map.of() : new LinkedHashMap<>(capabilities);
    }

    public static KvmFacts unopened(String why) {
        return new KvmFacts(why, -1, Map.of(), null, null, null, null);
    }
}

package dev.jvmm.probe;

import dev.jvmm.sys.kvm.CpuidEntry;
import dev.jvmm.sys.kvm.Kvm;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@link KvmAccess} over the real {@code /dev/kvm} ioctls. */
public final class DevKvm implements KvmAccess {
    /** The capabilities jvmm needs, by their {@code <linux/kvm.h>} names. */
    public static final Map<String, Integer> REQUIRED_CAPS = required();

    private static Map<String, Integer> required() {
        Map<String, Integer> m = new LinkedHashMap<>();
        m.put("KVM_CAP_USER_MEMORY", KvmConstants.KVM_CAP_USER_MEMORY);
        m.put("KVM_CAP_IRQCHIP", KvmConstants.KVM_CAP_IRQCHIP);
        m.put("KVM_CAP_IRQFD", KvmConstants.KVM_CAP_IRQFD);
        m.put("KVM_CAP_IOEVENTFD", KvmConstants.KVM_CAP_IOEVENTFD);
        m.put("KVM_CAP_IRQ_ROUTING", KvmConstants.KVM_CAP_IRQ_ROUTING);
        m.put("KVM_CAP_SET_TSS_ADDR", KvmConstants.KVM_CAP_SET_TSS_ADDR);
        m.put("KVM_CAP_PIT2", KvmConstants.KVM_CAP_PIT2);
        m.put("KVM_CAP_SIGNAL_MSI", KvmConstants.KVM_CAP_SIGNAL_MSI);
        m.put("KVM_CAP_IRQFD_RESAMPLE", KvmConstants.KVM_CAP_IRQFD_RESAMPLE);
        m.put("KVM_CAP_MAX_VCPUS", KvmConstants.KVM_CAP_MAX_VCPUS);
        return java.util.Collections.unmodifiableMap(m);
    }

    /** Reported for information, not required. */
    static final Map<String, Integer> EXTRA_CAPS = Map.of("KVM_CAP_NR_MEMSLOTS", KvmConstants.KVM_CAP_NR_MEMSLOTS,
            "KVM_CAP_IMMEDIATE_EXIT", KvmConstants.KVM_CAP_IMMEDIATE_EXIT,
            "KVM_CAP_NESTED_STATE", KvmConstants.KVM_CAP_NESTED_STATE);

    @Override
    public KvmFacts inspect(Path devKvm, boolean measureSpeed) {
        Kvm kvm;
        try {
            kvm = Kvm.open(devKvm.toString());
        } catch (RuntimeException e) {
            return KvmFacts.unopened(e.getMessage());
        }
        try (kvm) {
            int api = kvm.apiVersion();
            Map<String, Integer> caps = new LinkedHashMap<>();
            for (var e : REQUIRED_CAPS.entrySet()) {
                caps.put(e.getKey(), kvm.checkExtension(e.getValue()));
            }
            for (var e : new java.util.TreeMap<>(EXTRA_CAPS).entrySet()) {
                caps.put(e.getKey(), kvm.checkExtension(e.getValue()));
            }
            Boolean vmx = null;
            Boolean svm = null;
            try {
                List<CpuidEntry> cpuid = kvm.supportedCpuid();
                vmx = false;
                svm = false;
                for (CpuidEntry c : cpuid) {
                    if (c.function() == 1 && (c.ecx() & (1 << 5)) != 0) {
                        vmx = true;
                    }
                    if (c.function() == 0x80000001 && (c.ecx() & (1 << 2)) != 0) {
                        svm = true;
                    }
                }
            } catch (RuntimeException e) {
                // leave unknown; the nested check says so
            }
            KvmSpeed.Result speed = null;
            String speedError = null;
            if (measureSpeed) {
                try {
                    speed = KvmSpeed.measure(kvm, KvmSpeed.DEFAULT_BUDGET);
                } catch (RuntimeException e) {
                    speedError = e.getMessage();
                }
            }
            return new KvmFacts(null, api, caps, vmx, svm, speed, speedError);
        }
    }
}

package dev.jvmm.sys.testing;

import dev.jvmm.sys.kvm.Kvm;
import dev.jvmm.sys.kvm.VmFd;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * Where the kvm tier runs. On a host whose {@code /dev/kvm} can run code (even one that emulates every instruction:
 * the tier's guests are a few hundred instructions) it runs here, in each module's test JVM. On a host without a
 * usable {@code /dev/kvm} (none at all, as on a host that is itself a paravirtualised guest) it runs inside the lab's
 * L1, whose nested KVM runs the same tiny guests: {@link KvmTierFilter} takes the tier's classes out of the
 * modules' test plans, and the one {@value #IN_LAB_TAG} test (in {@code vmm}, the last module) runs them all in one
 * JVM inside one L1 with {@link TierRunner}.
 *
 * <p>{@code JVMM_KVM_TIER=host} or {@code lab} overrides the choice ({@code auto}, the default, decides as above):
 * {@code lab} on a KVM host proves the in-lab path, {@code host} restores the plain "needs /dev/kvm" behaviour.
 */
public final class KvmTier {
    /** Tag of every kvm-tier test ({@link KvmTest}). */
    public static final String TAG = "kvm";
    /** Tag of the test that runs the kvm tier inside the lab. */
    public static final String IN_LAB_TAG = "kvm-in-lab";

    /** Where the tier runs, and why. */
    public record Where(boolean inLab, String reason) {
    }

    private static Where cached;

    private KvmTier() {
    }

    /** Where the tier runs for this JVM (decided once). */
    public static synchronized Where where() {
        if (cached == null) {
            cached = decide(System.getenv(), hostProblem());
        }
        return cached;
    }

    static Where decide(Map<String, String> env, String hostProblem) {
        String mode = env.getOrDefault("JVMM_KVM_TIER", "auto").strip().toLowerCase(Locale.ROOT);
        switch (mode) {
            case "host":
                return new Where(false, "JVMM_KVM_TIER=host");
            case "lab":
                return new Where(true, "JVMM_KVM_TIER=lab");
            case "", "auto":
                return hostProblem == null ? new Where(false, "this host's /dev/kvm runs code")
                        : new Where(true, hostProblem);
            default:
                throw new IllegalArgumentException("JVMM_KVM_TIER=" + mode + " is not valid (use auto, host or lab)");
        }
    }

    /** Null when this host's {@code /dev/kvm} can create a VM; else what stands in the way. */
    static String hostProblem() {
        Path kvm = Path.of(Kvm.DEV_KVM);
        if (!Files.exists(kvm)) {
            return "this host has no /dev/kvm";
        }
        if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
            return "/dev/kvm is not accessible to " + System.getProperty("user.name");
        }
        try (Kvm k = Kvm.open(); VmFd vm = k.createVm()) {
            return null;
        } catch (RuntimeException e) {
            return "/dev/kvm cannot create a VM here: " + e.getMessage();
        }
    }
}

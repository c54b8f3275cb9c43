package dev.jvmm.vmm.nic;

import dev.jvmm.probe.HostProbe;
import dev.jvmm.probe.ProbeException;
import dev.jvmm.probe.ProbeOptions;
import dev.jvmm.probe.UseCase;
import dev.jvmm.probe.Verdict;
import dev.jvmm.vmm.VmmException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether this host can pass a PCI function through to a VM: the probe's {@code passthrough} verdict (IOMMU on,
 * interrupt remapping, VFIO, memlock for the guest's RAM, and KVM itself), with the reason a plan line quotes.
 *
 * @param ready  no check the verdict depends on failed
 * @param reason when ready, what was found ({@code IOMMU ready}); otherwise the first blocking check's finding
 */
public record PassthroughReadiness(boolean ready, String reason) {
    /**
     * A test and diagnostic hook: when this environment variable is set, {@link #host} does not probe and takes its
     * value instead, {@code passthrough=ready[:REASON]} or {@code passthrough=not-ready[:REASON]}, e.g.
     * {@code JVMM_PROBE_OVERRIDE='passthrough=not-ready:no IOMMU (simulated)'}. Read only by {@link #host}; jvmm
     * logs a warning whenever it is in effect. Documented in docs/launch.md.
     */
    public static final String OVERRIDE_ENV = "JVMM_PROBE_OVERRIDE";

    private static final Logger log = LoggerFactory.getLogger(PassthroughReadiness.class);

    public static PassthroughReadiness ready(String reason) {
        return new PassthroughReadiness(true, reason);
    }

    public static PassthroughReadiness notReady(String reason) {
        return new PassthroughReadiness(false, reason);
    }

    /** From the probe's verdict: {@code IOMMU ready}, or the first blocking check's title (and how many more). */
    public static PassthroughReadiness of(Verdict v) {
        if (v.ready()) {
            return ready("IOMMU ready");
        }
        String first = v.blocking().get(0).text();
        int more = v.blocking().size() - 1;
        return notReady(more == 0 ? first : first + " (and " + more + " more: see jvmm probe)");
    }

    /**
     * This host's readiness, for a VM of {@code guestMemory} bytes (VFIO pins all of it): the override when
     * {@link #OVERRIDE_ENV} is set, else the probe's passthrough checks without the KVM speed loop (milliseconds).
     */
    public static PassthroughReadiness host(long guestMemory) {
        String override = System.getenv(OVERRIDE_ENV);
        if (override != null) {
            PassthroughReadiness r = override(override);
            log.warn("{} is set: passthrough is taken as {} ({}), not probed", OVERRIDE_ENV,
                    r.ready() ? "ready" : "not ready", r.reason());
            return r;
        }
        try {
            return of(HostProbe.verdictOf(UseCase.PASSTHROUGH, new ProbeOptions(guestMemory, false)));
        } catch (ProbeException e) {
            return notReady("the probe failed: " + e.getMessage());
        }
    }

    /** Parses a value of {@link #OVERRIDE_ENV}; a malformed one is a CONFIG error naming the variable. */
    public static PassthroughReadiness override(String value) {
        String v = value.trim();
        int colon = v.indexOf(':');
        String state = (colon < 0 ? v : v.substring(0, colon)).trim();
        String reason = colon < 0 ? null : v.substring(colon + 1).trim();
        if (reason != null && reason.isEmpty()) {
            reason = null;
        }
        return switch (state) {
            case "passthrough=ready" -> ready(reason != null ? reason : "IOMMU ready (" + OVERRIDE_ENV + ")");
            case "passthrough=not-ready" -> notReady(reason != null ? reason : "not ready (" + OVERRIDE_ENV + ")");
            default -> throw new VmmException(VmmException.Reason.CONFIG, OVERRIDE_ENV + ": \"" + value
                    + "\" is not passthrough=ready[:REASON] or passthrough=not-ready[:REASON]");
        };
    }
}

package dev.jvmm.probe;

import java.util.List;

/**
 * Whether the host is ready for one use case.
 *
 * @param useCase  the use case
 * @param ready    true when no check it depends on FAILed
 * @param blocking the FAILed checks, each as (check id, why)
 * @param warnings the WARNed checks it depends on, each as (check id, why)
 */
public record Verdict(UseCase useCase, boolean ready, List<Reason> blocking, List<Reason> warnings) {
    /** One check's contribution to a verdict. */
    public record Reason(String check, String text) {
    }

    public Verdict {
        blocking = List.copyOf(blocking);
        warnings = List.copyOf(warnings);
    }
}

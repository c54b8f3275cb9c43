package dev.jvmm.probe;

import java.nio.file.Path;

/** Reads {@link KvmFacts} from a KVM device; {@link DevKvm} is the real one, tests pass their own. */
@FunctionalInterface
public interface KvmAccess {
    /**
     * @param devKvm       the KVM device node
     * @param measureSpeed run the guest loop of {@link KvmSpeed}
     */
    KvmFacts inspect(Path devKvm, boolean measureSpeed);
}

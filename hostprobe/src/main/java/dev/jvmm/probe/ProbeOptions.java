package dev.jvmm.probe;

/**
 * @param guestMemoryBytes guest RAM the operator plans to give a VM; VFIO pins all of it (RLIMIT_MEMLOCK check)
 * @param measureKvmSpeed  run the guest loop of {@link KvmSpeed}
 */
public record ProbeOptions(long guestMemoryBytes, boolean measureKvmSpeed) {
    public static final long DEFAULT_MEMORY = 1L << 30;

    public ProbeOptions {
        if (guestMemoryBytes <= 0) {
            throw new ProbeException(ProbeException.Reason.BAD_ARGUMENT, "guest memory must be positive, got "
                    + guestMemoryBytes);
        }
    }

    public static ProbeOptions defaults() {
        return new ProbeOptions(DEFAULT_MEMORY, true);
    }
}

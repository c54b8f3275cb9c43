package dev.jvmm.sys.kvm;

import dev.jvmm.sys.kvm.uapi.KvmConstants;

/**
 * {@code struct kvm_clock_data}: the VM's kvmclock in nanoseconds and, per {@code flags}, the host's realtime
 * ({@link KvmConstants#KVM_CLOCK_REALTIME}) and TSC ({@link KvmConstants#KVM_CLOCK_HOST_TSC}) read at the same
 * instant; {@link KvmConstants#KVM_CLOCK_TSC_STABLE} says the clock comes from a stable master clock.
 */
public record ClockData(long clock, int flags, long realtime, long hostTsc) {
    /** Only the clock, flags 0: what every kernel's KVM_SET_CLOCK accepts. */
    public static ClockData of(long clock) {
        return new ClockData(clock, 0, 0, 0);
    }

    /** True when {@link #realtime()} was filled in by KVM_GET_CLOCK. */
    public boolean hasRealtime() {
        return (flags & KvmConstants.KVM_CLOCK_REALTIME) != 0;
    }

    /**
     * For KVM_SET_CLOCK with {@link KvmConstants#KVM_CLOCK_REALTIME}: the kernel then adds the realtime that passed
     * since {@link #realtime()} to the clock (Linux 5.16 and later), so guest time keeps up with the wall clock across
     * a migration. Refused when this was read without a realtime.
     */
    public ClockData advancingByRealtime() {
        if (!hasRealtime()) {
            throw new IllegalStateException("the clock was read without KVM_CLOCK_REALTIME (flags 0x"
                    + Integer.toHexString(flags) + "): it cannot be advanced by the realtime that passed");
        }
        return new ClockData(clock, KvmConstants.KVM_CLOCK_REALTIME, realtime, 0);
    }
}

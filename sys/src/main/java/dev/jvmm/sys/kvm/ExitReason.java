package dev.jvmm.sys.kvm;

import dev.jvmm.sys.kvm.uapi.KvmConstants;

/**
 * Why {@code KVM_RUN} returned. The exit's data stays in the vcpu's {@code kvm_run} and is read through
 * {@link VcpuFd}'s accessors, so an exit allocates nothing.
 */
public enum ExitReason {
    IO, MMIO, HLT, SHUTDOWN, FAIL_ENTRY, INTERNAL_ERROR, SYSTEM_EVENT,
    /** KVM_RUN returned EINTR (a signal or {@code immediate_exit}): not an error. */
    INTR,
    /** An exit reason jvmm does not handle; see {@link VcpuFd#rawExitReason()}. */
    OTHER;

    static ExitReason of(int raw) {
        return switch (raw) {
            case KvmConstants.KVM_EXIT_IO -> IO;
            case KvmConstants.KVM_EXIT_MMIO -> MMIO;
            case KvmConstants.KVM_EXIT_HLT -> HLT;
            case KvmConstants.KVM_EXIT_SHUTDOWN -> SHUTDOWN;
            case KvmConstants.KVM_EXIT_FAIL_ENTRY -> FAIL_ENTRY;
            case KvmConstants.KVM_EXIT_INTERNAL_ERROR -> INTERNAL_ERROR;
            case KvmConstants.KVM_EXIT_SYSTEM_EVENT -> SYSTEM_EVENT;
            case KvmConstants.KVM_EXIT_INTR -> INTR;
            default -> OTHER;
        };
    }
}

package dev.jvmm.vmm;

/** Why a VM stopped. {@link #exitCode()} is what {@code jvmm launch} returns (see docs/launch.md). */
public record VmExit(Kind kind, String message) {
    public enum Kind {
        /** ACPI S5 (poweroff) or a KVM shutdown system event: exit 0. */
        POWEROFF,
        /** A reset request (i8042 0xFE, ACPI reset register, KVM reset event). */
        RESET,
        /** A reboot asked for through the control API: the VM is built and booted again, whatever --on-reboot says. */
        REBOOT,
        /** The VM migrated away (send-migration completed: it runs on the destination): exit 0. */
        MIGRATED,
        /** The guest kernel panicked (seen on the console, or a KVM crash event). */
        PANIC,
        /** KVM_EXIT_SHUTDOWN: the guest triple-faulted. */
        TRIPLE_FAULT,
        /** KVM_EXIT_INTERNAL_ERROR / FAIL_ENTRY / an unhandled exit. */
        KVM_ERROR,
        /** jvmm itself failed while running the VM. */
        VMM_ERROR
    }

    public boolean crashed() {
        return kind == Kind.PANIC || kind == Kind.TRIPLE_FAULT || kind == Kind.KVM_ERROR;
    }
}

package dev.jvmm.core;

/**
 * Where memory slots go: in the VMM this is {@code VmFd::setUserMemoryRegion}
 * (KVM_SET_USER_MEMORY_REGION). vm-core itself issues no ioctl.
 */
@FunctionalInterface
public interface MemorySlotSink {
    void setUserMemoryRegion(int slot, int flags, long guestPhysAddr, long memorySize, long userspaceAddr);
}

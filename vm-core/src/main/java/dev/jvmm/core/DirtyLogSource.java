package dev.jvmm.core;

/**
 * Where KVM's dirty bitmaps come from: in the VMM this is {@code VmFd::getDirtyLog} (KVM_GET_DIRTY_LOG). vm-core
 * itself issues no ioctl.
 */
@FunctionalInterface
public interface DirtyLogSource {
    /**
     * Writes the dirty bitmap of memory slot {@code slot} to {@code bitmapAddress} (one bit per 4 KiB page of the
     * slot, page {@code i} at bit {@code i % 64} of 64-bit word {@code i / 64}; {@code (pages + 63) / 64 * 8} bytes)
     * and clears it at the source, as KVM_GET_DIRTY_LOG does: each call returns the pages written since the previous.
     */
    void getDirtyLog(int slot, long bitmapAddress);
}

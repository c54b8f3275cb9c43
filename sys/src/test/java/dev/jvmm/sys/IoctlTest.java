package dev.jvmm.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class IoctlTest {
    @Test
    void encodesDirectionSizeTypeAndNumber() {
        // _IOW(0xAE, 0x46, 32): dir 1 << 30 | 32 << 16 | 0xAE << 8 | 0x46
        assertEquals(0x4020AE46L, Ioctl.iow(0xAE, 0x46, 32));
        assertEquals(0xAE80L, Ioctl.io(0xAE, 0x80));
        assertEquals(0x8090AE81L, Ioctl.ior(0xAE, 0x81, 144));
        assertEquals(0xC008AE05L, Ioctl.iowr(0xAE, 0x05, 8));
    }

    @Test
    void getDirtyLogIsIowOf16ByteKvmDirtyLog() {
        // _IOW(KVMIO, 0x42, struct kvm_dirty_log): 1 << 30 | 16 << 16 | 0xAE << 8 | 0x42
        assertEquals(16, dev.jvmm.sys.kvm.uapi.KvmDirtyLog.SIZEOF);
        assertEquals(0x4010AE42L, dev.jvmm.sys.kvm.uapi.KvmIoctls.KVM_GET_DIRTY_LOG);
        assertEquals(1, dev.jvmm.sys.kvm.uapi.KvmConstants.KVM_MEM_LOG_DIRTY_PAGES);
    }

    @Test
    void rejectsSizesThatDoNotFit() {
        assertThrows(IllegalArgumentException.class, () -> Ioctl.iow(0xAE, 1, 1 << 14));
    }
}

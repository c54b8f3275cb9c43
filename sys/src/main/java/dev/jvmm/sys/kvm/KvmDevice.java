package dev.jvmm.sys.kvm;

import dev.jvmm.sys.Fd;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.kvm.uapi.KvmDeviceAttr;
import dev.jvmm.sys.kvm.uapi.KvmIoctls;

/**
 * An in-kernel KVM device made by {@link VmFd#createDevice} (for jvmm: the KVM-VFIO pseudo device,
 * {@code KVM_DEV_TYPE_VFIO}), configured through {@code KVM_SET_DEVICE_ATTR}. Owns its fd; {@link #close()} is
 * idempotent (the kernel keeps the device until the VM goes away; closing drops only this reference).
 */
public final class KvmDevice implements AutoCloseable {
    private final Fd fd;
    private final int type;

    KvmDevice(Fd fd, int type) {
        this.fd = fd;
        this.type = type;
    }

    public int type() {
        return type;
    }

    /**
     * {@code KVM_SET_DEVICE_ATTR} with {@code addr} pointing at one 32-bit value, as the VFIO device's
     * {@code KVM_DEV_VFIO_GROUP_ADD}/{@code _DEL} take a group fd.
     */
    public void setAttrInt(int group, long attr, int value, String what) {
        try (NativeBuffer v = new NativeBuffer(4); NativeBuffer a = new NativeBuffer(KvmDeviceAttr.SIZEOF)) {
            v.putInt(0, value);
            a.putInt(KvmDeviceAttr.GROUP, group);
            a.putLong(KvmDeviceAttr.ATTR, attr);
            a.putLong(KvmDeviceAttr.ADDR, v.address());
            fd.ioctl("KVM_SET_DEVICE_ATTR", KvmIoctls.KVM_SET_DEVICE_ATTR, a.address(), what);
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}

package dev.jvmm.sys.kvm;

import static dev.jvmm.sys.kvm.uapi.KvmIoctls.*;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.FlexArray;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import dev.jvmm.sys.kvm.uapi.KvmCpuid2;
import dev.jvmm.sys.kvm.uapi.KvmCpuidEntry2;
import java.util.ArrayList;
import java.util.List;

/** The {@code /dev/kvm} system fd: API version, extensions, vcpu mmap size, supported CPUID, VM creation. */
public final class Kvm implements AutoCloseable {
    public static final String DEV_KVM = "/dev/kvm";
    /** Upper bound for KVM_GET_SUPPORTED_CPUID entries (the kernel's KVM_MAX_CPUID_ENTRIES is 256). */
    private static final int MAX_CPUID_ENTRIES = 256;
    private final Fd fd;

    private Kvm(Fd fd) {
        this.fd = fd;
    }

    /** Opens {@code /dev/kvm} and refuses an API version other than 12, as the KVM API document demands. */
    public static Kvm open() {
        return open(DEV_KVM);
    }

    public static Kvm open(String path) {
        Fd fd = Fd.open(path, Native.O_RDWR);
        Kvm kvm = new Kvm(fd);
        int v = kvm.apiVersion();
        if (v != KvmConstants.KVM_API_VERSION) {
            kvm.close();
            throw new IllegalStateException(path + ": KVM_GET_API_VERSION returned " + v + ", expected "
                    + KvmConstants.KVM_API_VERSION);
        }
        return kvm;
    }

    public Fd fd() {
        return fd;
    }

    /** KVM_GET_API_VERSION. */
    public int apiVersion() {
        return fd.ioctl("KVM_GET_API_VERSION", KVM_GET_API_VERSION, 0);
    }

    /** KVM_CHECK_EXTENSION: 0 when absent, otherwise a positive, capability-specific value. */
    public int checkExtension(int cap) {
        return fd.ioctl("KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION, cap, "cap=" + cap);
    }

    /** KVM_GET_VCPU_MMAP_SIZE: bytes to mmap from each vcpu fd for its {@code kvm_run}. */
    public int vcpuMmapSize() {
        return fd.ioctl("KVM_GET_VCPU_MMAP_SIZE", KVM_GET_VCPU_MMAP_SIZE, 0);
    }

    /** KVM_GET_SUPPORTED_CPUID. */
    public List<CpuidEntry> supportedCpuid() {
        try (FlexArray a = new FlexArray(KvmCpuid2.SIZEOF, KvmCpuidEntry2.SIZEOF, MAX_CPUID_ENTRIES)) {
            a.buffer().putInt(KvmCpuid2.NENT, MAX_CPUID_ENTRIES);
            fd.ioctl("KVM_GET_SUPPORTED_CPUID", KVM_GET_SUPPORTED_CPUID, a.address(), "nent=" + MAX_CPUID_ENTRIES);
            int n = a.buffer().getInt(KvmCpuid2.NENT);
            List<CpuidEntry> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(CpuidEntry.read(a.buffer(), a.entry(i)));
            }
            return out;
        }
    }

    /** KVM_CREATE_VM (type 0). */
    public VmFd createVm() {
        int r = Native.LIBC.ioctl(fd.fd(), KVM_CREATE_VM, 0);
        if (r < 0) {
            throw new ErrnoException("KVM_CREATE_VM", Native.errno(), DEV_KVM);
        }
        return new VmFd(this, new Fd(r, "kvm-vm"));
    }

    @Override
    public void close() {
        fd.close();
    }
}

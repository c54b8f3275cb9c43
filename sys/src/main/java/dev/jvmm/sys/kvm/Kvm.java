package dev.jvmm.sys.kvm;

import static dev.jvmm.sys.kvm.uapi.KvmIoctls.*;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.FlexArray;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import dev.jvmm.sys.kvm.uapi.KvmCpuid2;
import dev.jvmm.sys.kvm.uapi.KvmCpuidEntry2;
import dev.jvmm.sys.kvm.uapi.KvmMsrList;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code /dev/kvm} system fd: API version, extensions, vcpu mmap size, supported CPUID, the MSR index list,
 * VM creation.
 */
public final class Kvm implements AutoCloseable {
    public static final String DEV_KVM = "/dev/kvm";
    /** Upper bound for KVM_GET_SUPPORTED_CPUID entries (the kernel's KVM_MAX_CPUID_ENTRIES is 256). */
    static final int MAX_CPUID_ENTRIES = 256;
    /** Sanity bound for KVM_GET_MSR_INDEX_LIST (KVM has a few hundred). */
    static final int MAX_MSR_INDICES = 4096;
    private final Fd fd;
    private volatile int[] msrIndexList;
    private volatile List<CpuidEntry> supportedCpuid;
    private volatile List<CpuidEntry> offeredCpuid;

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
        int v;
        try {
            v = kvm.apiVersion();
        } catch (RuntimeException e) {
            kvm.close(); // the fd was left open when the version could not be read
            throw e;
        }
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

    /** KVM_GET_SUPPORTED_CPUID, asked once and kept (it does not change while /dev/kvm is open); immutable. */
    public List<CpuidEntry> supportedCpuid() {
        List<CpuidEntry> l = supportedCpuid;
        if (l == null) {
            l = List.copyOf(readSupportedCpuid());
            supportedCpuid = l;
        }
        return l;
    }

    /**
     * What this host's KVM gives a vCPU: {@link #supportedCpuid()} with, OR-ed into each leaf, what a scratch vCPU set
     * with all of it reads back (KVM_SET_CPUID2, KVM_GET_CPUID2). On most hosts that is the supported list itself; a
     * paravirtual KVM (kvm_pvm) adds its host's own feature bits, which a vCPU state saved on such a host then holds,
     * so a saved vCPU's CPUID is checked against this, not against the supported list alone. The supported list when
     * the scratch vCPU cannot be made. Read once.
     */
    public List<CpuidEntry> offeredCpuid() {
        List<CpuidEntry> l = offeredCpuid;
        if (l == null) {
            List<CpuidEntry> supported = supportedCpuid();
            List<CpuidEntry> back;
            try (VmFd vm = createVm(); VcpuFd v = vm.createVcpu(0)) {
                v.setCpuid(supported);
                back = v.getCpuid();
            } catch (RuntimeException e) {
                back = List.of();
            }
            java.util.Map<Long, CpuidEntry> merged = new java.util.LinkedHashMap<>();
            for (CpuidEntry e : supported) {
                merged.put((long) e.function() << 32 | (e.index() & 0xffffffffL), e);
            }
            for (CpuidEntry b : back) {
                long key = (long) b.function() << 32 | (b.index() & 0xffffffffL);
                CpuidEntry e = merged.get(key);
                merged.put(key, e == null ? b : new CpuidEntry(e.function(), e.index(), e.flags(), e.eax() | b.eax(),
                        e.ebx() | b.ebx(), e.ecx() | b.ecx(), e.edx() | b.edx()));
            }
            l = List.copyOf(merged.values());
            offeredCpuid = l;
        }
        return l;
    }

    private List<CpuidEntry> readSupportedCpuid() {
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

    /**
     * KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores for a vCPU (those of the host CPU it virtualises and
     * those it emulates), in KVM's order. Asked once (a first call with room for none learns the count) and kept.
     */
    public int[] msrIndexList() {
        int[] l = msrIndexList;
        if (l == null) {
            l = readMsrIndexList();
            msrIndexList = l;
        }
        return l.clone();
    }

    private int[] readMsrIndexList() {
        int n;
        try (NativeBuffer probe = new NativeBuffer(KvmMsrList.SIZEOF)) {
            int r = Native.LIBC.ioctl(fd.fd(), KVM_GET_MSR_INDEX_LIST, probe.address()); // nmsrs 0: E2BIG and the count
            int e = r < 0 ? Native.errno() : 0;
            if (r < 0 && e != Errno.E2BIG) {
                throw new ErrnoException("KVM_GET_MSR_INDEX_LIST", e, DEV_KVM + " nmsrs=0");
            }
            n = probe.getInt(KvmMsrList.NMSRS);
        }
        if (n < 0 || n > MAX_MSR_INDICES) {
            throw new IllegalStateException("KVM_GET_MSR_INDEX_LIST: " + (n & 0xffffffffL) + " MSRs, more than the "
                    + MAX_MSR_INDICES + " jvmm accepts");
        }
        try (FlexArray a = new FlexArray(KvmMsrList.SIZEOF, 4, n)) {
            a.buffer().putInt(KvmMsrList.NMSRS, n);
            fd.ioctl("KVM_GET_MSR_INDEX_LIST", KVM_GET_MSR_INDEX_LIST, a.address(), DEV_KVM + " nmsrs=" + n);
            int got = Math.min(n, a.buffer().getInt(KvmMsrList.NMSRS));
            int[] out = new int[got];
            for (int i = 0; i < got; i++) {
                out[i] = a.buffer().getInt(a.entry(i));
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

package dev.jvmm.sys.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Mmap;
import dev.jvmm.sys.kvm.uapi.KvmConstants;
import dev.jvmm.sys.testing.KvmTest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Failing KVM ioctls surface as ErrnoException naming the ioctl and errno (kvm tier, real /dev/kvm). */
@KvmTest
class KvmErrorsTest {
    @Test
    void systemIoctlsAnswer() {
        try (Kvm kvm = Kvm.open()) {
            assertEquals(12, kvm.apiVersion());
            assertTrue(kvm.checkExtension(KvmConstants.KVM_CAP_USER_MEMORY) > 0);
            assertTrue(kvm.checkExtension(KvmConstants.KVM_CAP_IRQFD) > 0);
            assertTrue(kvm.checkExtension(KvmConstants.KVM_CAP_IOEVENTFD) > 0);
            assertTrue(kvm.vcpuMmapSize() >= 4096);
            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 0), "leaf 0 present");
            System.out.printf("kvm: API %d, vcpu mmap %d bytes, %d CPUID entries, max vcpus %d%n", kvm.apiVersion(),
                    kvm.vcpuMmapSize(), cpuid.size(), kvm.checkExtension(KvmConstants.KVM_CAP_MAX_VCPUS));
        }
    }

    @Test
    void createVcpuWithAnImpossibleIdNamesTheIoctlAndErrno() {
        try (Kvm kvm = Kvm.open(); VmFd vm = kvm.createVm()) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> vm.createVcpu(1 << 20));
            assertEquals("KVM_CREATE_VCPU", e.op());
            assertEquals("EINVAL", e.errnoName());
            assertTrue(e.getMessage().startsWith("KVM_CREATE_VCPU failed: EINVAL (Invalid argument)"), e.getMessage());
            System.out.println("as expected: " + e.getMessage());
        }
    }

    @Test
    void overlappingMemorySlotNamesTheIoctlErrnoAndSlot() {
        try (Kvm kvm = Kvm.open(); VmFd vm = kvm.createVm(); Mmap a = Mmap.anonymous(0x10000, "a");
                Mmap b = Mmap.anonymous(0x10000, "b")) {
            vm.setUserMemoryRegion(0, 0, 0x100000, 0x10000, a.address());
            ErrnoException e = assertThrows(ErrnoException.class,
                    () -> vm.setUserMemoryRegion(1, 0, 0x108000, 0x10000, b.address()));
            assertEquals("KVM_SET_USER_MEMORY_REGION", e.op());
            assertEquals("EEXIST", e.errnoName());
            assertTrue(e.getMessage().contains("slot=1 gpa=0x108000"), e.getMessage());
            System.out.println("as expected: " + e.getMessage());
        }
    }

    @Test
    void irqfdWithoutAnIrqchipFails() {
        try (Kvm kvm = Kvm.open(); VmFd vm = kvm.createVm()) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> vm.irqLine(4, 1));
            assertEquals("KVM_IRQ_LINE", e.op());
            System.out.println("as expected: " + e.getMessage());
        }
    }
}

package dev.jvmm.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.testing.HeaderCheck;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every struct layout, ioctl number and constant mirrored in {@code sys} is compared with what gcc sees
 * in the installed kernel and libc headers (/usr/include/linux, /usr/include).
 */
class HeaderLayoutTest {
    @Test
    void layoutsAndIoctlNumbersMatchTheKernelHeaders(@TempDir Path tmp) throws Exception {
        Path classes = Path.of(LibC.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<Class<?>> all = HeaderCheck.classesUnder(classes, "dev.jvmm.sys");
        HeaderCheck.Result r = HeaderCheck.check(all, tmp);
        System.out.printf("layout: %d structs (%d sizeof, %d offsetof) and %d constants/ioctl numbers checked against the headers%n",
                r.structs(), r.sizes(), r.offsets(), r.constants());
        assertEquals(List.of(), r.mismatches(), "Java mirrors that differ from the C headers");
        // the KVM structs and ioctls of the issue must all be among the checked items
        for (String must : List.of("KvmIoctls.KVM_CREATE_VCPU", "KvmIoctls.KVM_SET_USER_MEMORY_REGION", "KvmIoctls.KVM_RUN",
                "KvmIoctls.KVM_IRQFD", "KvmIoctls.KVM_IOEVENTFD", "KvmIoctls.KVM_SET_GSI_ROUTING", "KvmIoctls.KVM_SIGNAL_MSI",
                "KvmIoctls.KVM_GET_SUPPORTED_CPUID", "KvmIoctls.KVM_SET_CPUID2", "KvmIoctls.KVM_SET_MSRS",
                "KvmIoctls.KVM_GET_LAPIC", "KvmIoctls.KVM_SET_FPU", "KvmSregs.SIZEOF", "KvmRunLayout.IO_DATA_OFFSET",
                "VfioIoctls.VFIO_GROUP_GET_DEVICE_FD", "VfioIoctls.VFIO_IOMMU_MAP_DMA", "VfioIoctls.VFIO_DEVICE_SET_IRQS",
                "VfioIrqSet.SIZEOF", "VfioIommuType1DmaMap.SIZEOF", "VfioRegionInfo.OFFSET",
                "VfioConstants.VFIO_PCI_CONFIG_REGION_INDEX", "VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX")) {
            assertTrue(r.cSource().contains("\"" + must + "\""), must + " was not checked");
        }
        assertTrue(r.structs() >= 19 && r.checks() >= 150, "too few layout checks: " + r);
    }
}

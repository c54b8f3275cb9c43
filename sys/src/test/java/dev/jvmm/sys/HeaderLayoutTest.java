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
                "VfioConstants.VFIO_PCI_CONFIG_REGION_INDEX", "VfioConstants.VFIO_PCI_MSIX_IRQ_INDEX",
                // vCPU and VM state for snapshot / migration (issue 15)
                "KvmIoctls.KVM_GET_MP_STATE", "KvmIoctls.KVM_SET_MP_STATE", "KvmIoctls.KVM_GET_XSAVE",
                "KvmIoctls.KVM_SET_XSAVE", "KvmIoctls.KVM_GET_XSAVE2", "KvmIoctls.KVM_GET_XCRS", "KvmIoctls.KVM_SET_XCRS",
                "KvmIoctls.KVM_GET_DEBUGREGS", "KvmIoctls.KVM_SET_DEBUGREGS", "KvmIoctls.KVM_GET_MSR_INDEX_LIST",
                "KvmIoctls.KVM_GET_MSRS", "KvmIoctls.KVM_GET_VCPU_EVENTS", "KvmIoctls.KVM_SET_VCPU_EVENTS",
                "KvmIoctls.KVM_GET_TSC_KHZ", "KvmIoctls.KVM_SET_TSC_KHZ", "KvmIoctls.KVM_GET_CPUID2",
                "KvmIoctls.KVM_KVMCLOCK_CTRL", "KvmIoctls.KVM_GET_FPU", "KvmIoctls.KVM_GET_IRQCHIP",
                "KvmIoctls.KVM_SET_IRQCHIP", "KvmIoctls.KVM_GET_PIT2", "KvmIoctls.KVM_SET_PIT2", "KvmIoctls.KVM_GET_CLOCK",
                "KvmIoctls.KVM_SET_CLOCK", "KvmMpState.SIZEOF", "KvmXsave.SIZEOF", "KvmXcrs.SIZEOF",
                "KvmDebugregs.SIZEOF", "KvmVcpuEvents.SIZEOF", "KvmMsrList.SIZEOF", "KvmIrqchip.SIZEOF",
                "KvmIrqchip.CHIP", "KvmPitState2.SIZEOF", "KvmPitChannelState.SIZEOF", "KvmClockData.REALTIME",
                "KvmConstants.KVM_CAP_XSAVE2", "KvmConstants.KVM_CLOCK_REALTIME", "KvmConstants.KVM_MP_STATE_RUNNABLE",
                // dirty page tracking for live migration
                "KvmIoctls.KVM_GET_DIRTY_LOG", "KvmDirtyLog.SIZEOF", "KvmDirtyLog.SLOT", "KvmDirtyLog.DIRTY_BITMAP",
                "KvmConstants.KVM_MEM_LOG_DIRTY_PAGES")) {
            assertTrue(r.cSource().contains("\"" + must + "\""), must + " was not checked");
        }
        assertTrue(r.structs() >= 19 && r.checks() >= 150, "too few layout checks: " + r);
    }
}

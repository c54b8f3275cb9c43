package dev.jvmm.sys.vfio.uapi;

import dev.jvmm.sys.uapi.CConstants;

/** VFIO API constants and {@code enum} values from {@code <linux/vfio.h>}; each is checked against the header. */
@CConstants(headers = "linux/vfio.h")
public final class VfioConstants {
    public static final int VFIO_API_VERSION = 0;

    // IOMMU types (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU)
    public static final int VFIO_TYPE1_IOMMU = 1;
    public static final int VFIO_SPAPR_TCE_IOMMU = 2;
    public static final int VFIO_TYPE1v2_IOMMU = 3;
    public static final int VFIO_NOIOMMU_IOMMU = 8;

    // vfio_group_status.flags
    public static final int VFIO_GROUP_FLAGS_VIABLE = 1;
    public static final int VFIO_GROUP_FLAGS_CONTAINER_SET = 2;

    // vfio_device_info.flags
    public static final int VFIO_DEVICE_FLAGS_RESET = 1;
    public static final int VFIO_DEVICE_FLAGS_PCI = 2;

    // vfio_region_info.flags
    public static final int VFIO_REGION_INFO_FLAG_READ = 1;
    public static final int VFIO_REGION_INFO_FLAG_WRITE = 2;
    public static final int VFIO_REGION_INFO_FLAG_MMAP = 4;
    public static final int VFIO_REGION_INFO_FLAG_CAPS = 8;

    // capability chains (struct vfio_info_cap_header ids)
    public static final int VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
    public static final int VFIO_IOMMU_INFO_PGSIZES = 1;
    public static final int VFIO_IOMMU_INFO_CAPS = 2;
    public static final int VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
    public static final int VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;

    // vfio_irq_info.flags
    public static final int VFIO_IRQ_INFO_EVENTFD = 1;
    public static final int VFIO_IRQ_INFO_MASKABLE = 2;
    public static final int VFIO_IRQ_INFO_AUTOMASKED = 4;
    public static final int VFIO_IRQ_INFO_NORESIZE = 8;

    // vfio_irq_set.flags
    public static final int VFIO_IRQ_SET_DATA_NONE = 1;
    public static final int VFIO_IRQ_SET_DATA_BOOL = 2;
    public static final int VFIO_IRQ_SET_DATA_EVENTFD = 4;
    public static final int VFIO_IRQ_SET_ACTION_MASK = 8;
    public static final int VFIO_IRQ_SET_ACTION_UNMASK = 16;
    public static final int VFIO_IRQ_SET_ACTION_TRIGGER = 32;

    // vfio_iommu_type1_dma_map.flags
    public static final int VFIO_DMA_MAP_FLAG_READ = 1;
    public static final int VFIO_DMA_MAP_FLAG_WRITE = 2;

    // vfio-pci region indexes (enum)
    public static final int VFIO_PCI_BAR0_REGION_INDEX = 0;
    public static final int VFIO_PCI_BAR1_REGION_INDEX = 1;
    public static final int VFIO_PCI_BAR2_REGION_INDEX = 2;
    public static final int VFIO_PCI_BAR3_REGION_INDEX = 3;
    public static final int VFIO_PCI_BAR4_REGION_INDEX = 4;
    public static final int VFIO_PCI_BAR5_REGION_INDEX = 5;
    public static final int VFIO_PCI_ROM_REGION_INDEX = 6;
    public static final int VFIO_PCI_CONFIG_REGION_INDEX = 7;
    public static final int VFIO_PCI_VGA_REGION_INDEX = 8;
    public static final int VFIO_PCI_NUM_REGIONS = 9;

    // vfio-pci irq indexes (enum)
    public static final int VFIO_PCI_INTX_IRQ_INDEX = 0;
    public static final int VFIO_PCI_MSI_IRQ_INDEX = 1;
    public static final int VFIO_PCI_MSIX_IRQ_INDEX = 2;
    public static final int VFIO_PCI_ERR_IRQ_INDEX = 3;
    public static final int VFIO_PCI_REQ_IRQ_INDEX = 4;
    public static final int VFIO_PCI_NUM_IRQS = 5;

    private VfioConstants() {
    }
}

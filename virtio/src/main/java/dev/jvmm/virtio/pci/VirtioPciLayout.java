package dev.jvmm.virtio.pci;

import dev.jvmm.sys.uapi.CConstants;
import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/** Layouts of the modern virtio-pci structures ({@code <linux/virtio_pci.h>}, virtio 1.2 §4.1.4); header-checked. */
public final class VirtioPciLayout {
    private VirtioPciLayout() {
    }

    /** {@code struct virtio_pci_common_cfg} (virtio 1.2 §4.1.4.3). */
    @CStruct(value = "struct virtio_pci_common_cfg", headers = "linux/virtio_pci.h")
    public static final class CommonCfg {
        private CommonCfg() {
        }

        @Sizeof public static final int SIZEOF = 0x38;
        @Offsetof("device_feature_select") public static final int DEVICE_FEATURE_SELECT = 0x00;
        @Offsetof("device_feature") public static final int DEVICE_FEATURE = 0x04;
        @Offsetof("guest_feature_select") public static final int DRIVER_FEATURE_SELECT = 0x08;
        @Offsetof("guest_feature") public static final int DRIVER_FEATURE = 0x0c;
        @Offsetof("msix_config") public static final int MSIX_CONFIG = 0x10;
        @Offsetof("num_queues") public static final int NUM_QUEUES = 0x12;
        @Offsetof("device_status") public static final int DEVICE_STATUS = 0x14;
        @Offsetof("config_generation") public static final int CONFIG_GENERATION = 0x15;
        @Offsetof("queue_select") public static final int QUEUE_SELECT = 0x16;
        @Offsetof("queue_size") public static final int QUEUE_SIZE = 0x18;
        @Offsetof("queue_msix_vector") public static final int QUEUE_MSIX_VECTOR = 0x1a;
        @Offsetof("queue_enable") public static final int QUEUE_ENABLE = 0x1c;
        @Offsetof("queue_notify_off") public static final int QUEUE_NOTIFY_OFF = 0x1e;
        @Offsetof("queue_desc_lo") public static final int QUEUE_DESC = 0x20;
        @Offsetof("queue_avail_lo") public static final int QUEUE_DRIVER = 0x28;
        @Offsetof("queue_used_lo") public static final int QUEUE_DEVICE = 0x30;
    }

    /** {@code struct virtio_pci_cap} (virtio 1.2 §4.1.4). */
    @CStruct(value = "struct virtio_pci_cap", headers = "linux/virtio_pci.h")
    public static final class Cap {
        private Cap() {
        }

        @Sizeof public static final int SIZEOF = 16;
        @Offsetof("cap_len") public static final int CAP_LEN = 2;
        @Offsetof("cfg_type") public static final int CFG_TYPE = 3;
        @Offsetof("bar") public static final int BAR = 4;
        @Offsetof("id") public static final int ID = 5;
        @Offsetof("offset") public static final int OFFSET = 8;
        @Offsetof("length") public static final int LENGTH = 12;
    }

    @CStruct(value = "struct virtio_pci_notify_cap", headers = "linux/virtio_pci.h")
    public static final class NotifyCap {
        private NotifyCap() {
        }

        @Sizeof public static final int SIZEOF = 20;
        @Offsetof("notify_off_multiplier") public static final int NOTIFY_OFF_MULTIPLIER = 16;
    }

    @CStruct(value = "struct virtio_pci_cfg_cap", headers = "linux/virtio_pci.h")
    public static final class CfgCap {
        private CfgCap() {
        }

        @Sizeof public static final int SIZEOF = 20;
        @Offsetof("pci_cfg_data") public static final int PCI_CFG_DATA = 16;
    }

    /** Capability types and the ISR bits. */
    @CConstants(headers = "linux/virtio_pci.h")
    public static final class Constants {
        private Constants() {
        }

        public static final int VIRTIO_PCI_CAP_COMMON_CFG = 1;
        public static final int VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
        public static final int VIRTIO_PCI_CAP_ISR_CFG = 3;
        public static final int VIRTIO_PCI_CAP_DEVICE_CFG = 4;
        public static final int VIRTIO_PCI_CAP_PCI_CFG = 5;
        public static final int VIRTIO_PCI_ISR_CONFIG = 0x2;
        public static final int VIRTIO_MSI_NO_VECTOR = 0xffff;
    }
}

package dev.jvmm.probe;

/**
 * One PCI function as sysfs shows it.
 *
 * @param bdf       domain:bus:device.function ({@code 0000:01:00.0})
 * @param vendor    vendor id, 4 hex digits
 * @param device    device id, 4 hex digits
 * @param pciClass  class code, 6 hex digits ({@code 020000})
 * @param driver    bound driver, or empty
 * @param numaNode  NUMA node, -1 when none
 */
public record PciDevice(String bdf, String vendor, String device, String pciClass, String driver, int numaNode) {
    /** PCI-to-PCI bridge (class 0604), which an IOMMU group may contain without harm. */
    public boolean isBridge() {
        return pciClass.startsWith("0604");
    }

    /** Bound to a driver that gives the device to userspace, or to none. */
    public boolean assignable() {
        return driver.isEmpty() || driver.equals("vfio-pci") || driver.equals("pci-stub");
    }

    public String id() {
        return vendor + ":" + device;
    }
}

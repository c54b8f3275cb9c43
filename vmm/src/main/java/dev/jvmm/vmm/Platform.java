package dev.jvmm.vmm;

import dev.jvmm.core.pci.PciHostBridge;
import dev.jvmm.core.state.Snapshottable;
import dev.jvmm.vmm.devices.GedDevice;
import dev.jvmm.vmm.devices.I8042;
import dev.jvmm.vmm.devices.PciHotplugController;
import dev.jvmm.vmm.devices.PowerDevice;
import dev.jvmm.vmm.devices.PvPanic;
import dev.jvmm.vmm.devices.Serial16550;
import java.util.LinkedHashMap;
import java.util.Map;

/** The VM's platform devices: the ones every VM has, outside the PCI slots. */
record Platform(Serial16550 serial, I8042 i8042, PowerDevice power, PvPanic pvpanic, GedDevice ged,
        PciHotplugController hotplug, PciHostBridge hostBridge) {
    /** Each one's saved-state section name, in the order they are saved and restored. */
    Map<String, Snapshottable> devices() {
        Map<String, Snapshottable> m = new LinkedHashMap<>();
        m.put("serial", serial);
        m.put("i8042", i8042);
        m.put("acpi-pm", power);
        m.put("pvpanic", pvpanic);
        m.put("acpi-ged", ged);
        m.put("pci-hotplug", hotplug);
        m.put("host-bridge", hostBridge);
        return m;
    }
}

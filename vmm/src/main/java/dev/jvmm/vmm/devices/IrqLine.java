package dev.jvmm.vmm.devices;

/** A legacy interrupt input (an IOAPIC/PIC pin): the device sets its level. */
@FunctionalInterface
public interface IrqLine {
    void setLevel(boolean high);
}

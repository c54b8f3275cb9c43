package dev.jvmm.vmm.acpi;

import static dev.jvmm.vmm.acpi.Aml.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Generates the ACPI tables jvmm gives the guest (ACPI 6.5): RSDP, XSDT, a hardware-reduced FADT (with reset
 * register and sleep control/status registers), MADT (one LAPIC per vCPU, the IOAPIC, ISA IRQ0 override, LINT1
 * NMI), MCFG (ECAM of segment 0) and a DSDT with the PCI host bridge (PNP0A08: _CRS windows, _PRT, hotpluggable
 * slots 1..31 with _EJ0), the 16550, pvpanic, the ECAM motherboard reservation, the PCI hotplug controller, the
 * Generic Event Device, a control-method power button and \_S5. Tables are laid out one after another from
 * {@code base}, RSDP first.
 */
public final class AcpiTables {
    public static final String OEM_ID = "JVMM  ";
    public static final String OEM_TABLE_ID = "JVMMVM  ";
    /** Sleep type the DSDT's \_S5 package gives for S5 (soft off): the guest writes it to the sleep control register. */
    public static final int SLP_TYP_S5 = 5;

    /** What the tables describe. */
    public record Platform(int cpus, long ioapic, long lapic, long ecamBase, int ecamBusEnd, long mmio32Base,
            long mmio32Size, long mmio64Base, long mmio64Size, int sleepControlPort, int sleepStatusPort,
            int resetPort, int resetValue, int serialPort, int serialIrq, int pvpanicPort, int gedPort, int gedGsi,
            int hotplugPort) {
    }

    /** Event bits of the GED's event register, as {@code \_SB.GED_._EVT} decodes them. */
    public static final int GED_PCI_HOTPLUG = 1, GED_POWER_BUTTON = 2;
    /** Register offsets of the PCI hotplug controller's I/O region ({@code \_SB.PHPR.PCST}). */
    public static final int HOTPLUG_PCIU = 0, HOTPLUG_PCID = 4, HOTPLUG_B0EJ = 8, HOTPLUG_PSEG = 12,
            HOTPLUG_LENGTH = 16;
    /** Hotpluggable slots of root bus 0: every slot but the host bridge's. */
    public static final int FIRST_HOTPLUG_SLOT = 1, LAST_HOTPLUG_SLOT = 31;
    /** ACPI device-object notification values (§5.6.6): device check, eject request, button status change. */
    static final int NOTIFY_DEVICE_CHECK = 1, NOTIFY_EJECT_REQUEST = 3, NOTIFY_BUTTON = 0x80;

    /** One table at its guest-physical address. */
    public record Table(String signature, long address, byte[] bytes) {
    }

    private AcpiTables() {
    }

    /** PCI INTx routing used in the _PRT: slot's pin (0 = INTA#) → IOAPIC GSI 16..23. */
    public static int intxGsi(int slot, int pin) {
        return 16 + ((slot + pin) & 7);
    }

    /** Builds every table; the first is the RSDP at {@code base}. */
    public static List<Table> build(Platform p, long base) {
        List<Table> out = new ArrayList<>();
        long at = base + 64; // RSDP: 36 bytes, then the rest 16-byte aligned
        byte[] dsdt = dsdt(p);
        long dsdtAddr = at;
        at = align(at + dsdt.length);
        byte[] fadt = fadt(p, dsdtAddr);
        long fadtAddr = at;
        at = align(at + fadt.length);
        byte[] madt = madt(p);
        long madtAddr = at;
        at = align(at + madt.length);
        byte[] mcfg = mcfg(p);
        long mcfgAddr = at;
        at = align(at + mcfg.length);
        byte[] xsdt = xsdt(new long[] {fadtAddr, madtAddr, mcfgAddr});
        long xsdtAddr = at;
        out.add(new Table("RSDP", base, rsdp(xsdtAddr)));
        out.add(new Table("XSDT", xsdtAddr, xsdt));
        out.add(new Table("FACP", fadtAddr, fadt));
        out.add(new Table("DSDT", dsdtAddr, dsdt));
        out.add(new Table("APIC", madtAddr, madt));
        out.add(new Table("MCFG", mcfgAddr, mcfg));
        return out;
    }

    private static long align(long a) {
        return (a + 15) & ~15L;
    }

    /** ACPI 2.0+ RSDP (§5.2.5.3): checksum over the first 20 bytes and extended checksum over all 36. */
    static byte[] rsdp(long xsdt) {
        ByteBuffer b = le(36);
        b.put("RSD PTR ".getBytes(StandardCharsets.US_ASCII));
        b.put((byte) 0);
        b.put(OEM_ID.getBytes(StandardCharsets.US_ASCII));
        b.put((byte) 2);
        b.putInt(0);
        b.putInt(36);
        b.putLong(xsdt);
        byte[] a = b.array();
        a[8] = checksum(a, 0, 20);
        a[32] = checksum(a, 0, 36);
        return a;
    }

    /** Writes the standard 36-byte header and fixes the checksum. */
    static byte[] table(String sig, int revision, byte[] body) {
        ByteBuffer b = le(36 + body.length);
        b.put(sig.getBytes(StandardCharsets.US_ASCII));
        b.putInt(36 + body.length);
        b.put((byte) revision);
        b.put((byte) 0);
        b.put(OEM_ID.getBytes(StandardCharsets.US_ASCII));
        b.put(OEM_TABLE_ID.getBytes(StandardCharsets.US_ASCII));
        b.putInt(1);
        b.put("JVMM".getBytes(StandardCharsets.US_ASCII));
        b.putInt(1);
        b.put(body);
        byte[] a = b.array();
        a[9] = checksum(a, 0, a.length);
        return a;
    }

    static byte[] xsdt(long[] tables) {
        ByteBuffer b = le(8 * tables.length);
        for (long t : tables) {
            b.putLong(t);
        }
        return table("XSDT", 1, b.array());
    }

    /** FADT revision 6 (276 bytes), hardware-reduced (§5.2.9). */
    static byte[] fadt(Platform p, long dsdt) {
        ByteBuffer b = le(276 - 36);
        int base = 36;
        b.putInt(36 - base, 0); // FIRMWARE_CTRL: no FACS in hardware-reduced mode
        b.putInt(40 - base, (int) dsdt);
        b.put(45 - base, (byte) 0); // Preferred_PM_Profile: unspecified
        // IAPC_BOOT_ARCH: VGA not present (bit 2), CMOS RTC not present (bit 5); no 8042 (the i8042 is only a reset port)
        b.putShort(109 - base, (short) (1 << 2 | 1 << 5));
        int flags = 1 << 4 /* PWR_BUTTON: none */ | 1 << 5 /* SLP_BUTTON: none */ | 1 << 10 /* RESET_REG_SUP */
                | 1 << 20 /* HW_REDUCED_ACPI */;
        b.putInt(112 - base, flags);
        gas(b, 116 - base, 1, 8, p.resetPort());
        b.put(128 - base, (byte) p.resetValue());
        b.put(131 - base, (byte) 5); // FADT minor version (6.5)
        b.putLong(140 - base, dsdt); // X_DSDT
        gas(b, 244 - base, 1, 8, p.sleepControlPort());
        gas(b, 256 - base, 1, 8, p.sleepStatusPort());
        b.put(268 - base, "JVMMJVMM".getBytes(StandardCharsets.US_ASCII)); // hypervisor vendor identity
        return table("FACP", 6, b.array());
    }

    /** Generic Address Structure: address space (1 = SystemIO), width in bits, byte access, address. */
    private static void gas(ByteBuffer b, int off, int space, int bits, long addr) {
        b.put(off, (byte) space);
        b.put(off + 1, (byte) bits);
        b.put(off + 2, (byte) 0);
        b.put(off + 3, (byte) 1);
        b.putLong(off + 4, addr);
    }

    /** MADT (§5.2.12): LAPICs 0..cpus-1 (ACPI UID = APIC id), IOAPIC id = cpus, ISO IRQ0 → GSI 2, LAPIC NMI LINT1. */
    static byte[] madt(Platform p) {
        ByteBuffer b = le(8 + 8 * p.cpus() + 12 + 10 + 6);
        b.putInt((int) p.lapic());
        b.putInt(0); // flags: no PCAT_COMPAT (hardware-reduced; the guest uses the IOAPIC)
        for (int i = 0; i < p.cpus(); i++) {
            b.put((byte) 0).put((byte) 8).put((byte) i).put((byte) i).putInt(1); // enabled
        }
        b.put((byte) 1).put((byte) 12).put((byte) p.cpus()).put((byte) 0).putInt((int) p.ioapic()).putInt(0);
        b.put((byte) 2).put((byte) 10).put((byte) 0).put((byte) 0).putInt(2).putShort((short) 0);
        b.put((byte) 4).put((byte) 6).put((byte) 0xff).putShort((short) 0).put((byte) 1);
        return table("APIC", 5, b.array());
    }

    /** MCFG (PCI Firmware 3.2 §4.1.2): one ECAM range for segment 0, buses 0..ecamBusEnd. */
    static byte[] mcfg(Platform p) {
        ByteBuffer b = le(8 + 16);
        b.putLong(0);
        b.putLong(p.ecamBase());
        b.putShort((short) 0);
        b.put((byte) 0);
        b.put((byte) p.ecamBusEnd());
        b.putInt(0);
        return table("MCFG", 1, b.array());
    }

    static byte[] dsdt(Platform p) {
        List<byte[]> prt = new ArrayList<>();
        for (int slot = 0; slot < 32; slot++) {
            for (int pin = 0; pin < 4; pin++) {
                prt.add(packageOf(integer((long) slot << 16 | 0xffff), integer(pin), integer(0),
                        integer(intxGsi(slot, pin))));
            }
        }
        byte[] pci = device("PCI0",
                name("_HID", eisaId("PNP0A08")),
                name("_CID", eisaId("PNP0A03")),
                name("_ADR", integer(0)),
                name("_SEG", integer(0)),
                name("_UID", integer(0)),
                name("_BBN", integer(0)),
                name("_CRS", resourceTemplate(
                        wordBusNumber(0, p.ecamBusEnd()),
                        io(0xcf8, 8),
                        dwordIo(0x0000, 0x0cf7),
                        dwordIo(0x0d00, 0xffff),
                        dwordMemory(p.mmio32Base(), p.mmio32Base() + p.mmio32Size() - 1),
                        qwordMemory(p.mmio64Base(), p.mmio64Base() + p.mmio64Size() - 1))),
                name("_PRT", packageOf(prt)),
                cat(hotplugSlots().toArray(new byte[0][])));
        byte[] com1 = device("COM1",
                name("_HID", eisaId("PNP0501")),
                name("_UID", integer(0)),
                name("_CRS", resourceTemplate(io(p.serialPort(), 8), irqNoFlags(p.serialIrq()))));
        // pvpanic, as QEMU describes it (Linux's pvpanic-mmio driver matches QEMU0001 and takes the I/O port)
        byte[] pvpanic = device("PEVT",
                name("_HID", string("QEMU0001")),
                name("_UID", integer(0)),
                name("_CRS", resourceTemplate(io(p.pvpanicPort(), 1))));
        // Linux only trusts MMCONFIG that firmware reserves: a PNP0C02 motherboard resource covering ECAM.
        byte[] res = device("MRES",
                name("_HID", eisaId("PNP0C02")),
                name("_UID", integer(1)),
                name("_CRS", resourceTemplate(memory32Fixed(p.ecamBase(), (p.ecamBusEnd() + 1L) << 20))));
        byte[] body = cat(
                scope("\\_SB", pci, com1, pvpanic, res, hotplugController(p), ged(p), powerButton()),
                name("\\_S5", packageOf(integer(SLP_TYP_S5), integer(0))));
        return table("DSDT", 2, body);
    }

    /**
     * The ACPI name of slot {@code slot}'s device under {@code \_SB.PCI0}: S01_ .. S31_ (decimal). Not
     * {@code String.format}: called 62 times on the launch path, it was a millisecond of interpreted parsing.
     */
    public static String slotName(int slot) {
        if (slot < 0 || slot > 99) {
            throw new IllegalArgumentException("slot " + slot);
        }
        return new String(new char[] {'S', (char) ('0' + slot / 10), (char) ('0' + slot % 10), '_'});
    }

    /**
     * {@code \_SB.PCI0.Sxx_} for slots 1..31, what Linux's acpiphp makes hotplug slots of: {@code _ADR} (the slot's
     * function 0; acpiphp scans the whole slot), {@code _SUN} (the slot's name in /sys/bus/pci/slots) and
     * {@code _EJ0}, which the guest calls once it has removed the slot's driver, and which tells the VMM the slot is
     * ejected.
     */
    static List<byte[]> hotplugSlots() {
        List<byte[]> out = new ArrayList<>();
        for (int slot = FIRST_HOTPLUG_SLOT; slot <= LAST_HOTPLUG_SLOT; slot++) {
            out.add(device(slotName(slot),
                    name("_ADR", integer((long) slot << 16)),
                    name("_SUN", integer(slot)),
                    method("_EJ0", 1, false, call("\\_SB.PHPR.PCEJ", integer(slot)))));
        }
        return out;
    }

    /**
     * {@code \_SB.PHPR}, the PCI hotplug controller (as Cloud Hypervisor's): 16 bytes of I/O with PCIU (slots to
     * add, read-clears), PCID (slots to remove, read-clears), B0EJ (a bitmap written by _EJ0: eject these) and
     * PSEG (segment, always 0). PSCN, run by the GED's _EVT, notifies each added slot with device check (the guest
     * scans it) and each slot to remove with eject request (the guest unbinds the driver, then calls _EJ0).
     */
    static byte[] hotplugController(Platform p) {
        List<byte[]> scan = new ArrayList<>();
        scan.add(store(ref("PCIU"), local(0)));
        scan.add(store(ref("PCID"), local(1)));
        for (int slot = FIRST_HOTPLUG_SLOT; slot <= LAST_HOTPLUG_SLOT; slot++) {
            String dev = "\\_SB.PCI0." + slotName(slot);
            scan.add(ifThen(and(local(0), integer(1L << slot), NULL_TARGET),
                    Aml.notify(ref(dev), integer(NOTIFY_DEVICE_CHECK))));
            scan.add(ifThen(and(local(1), integer(1L << slot), NULL_TARGET),
                    Aml.notify(ref(dev), integer(NOTIFY_EJECT_REQUEST))));
        }
        return device("PHPR",
                name("_HID", string("PNP0A06")),
                name("_UID", integer(0)),
                name("_STA", integer(0x0b)),
                name("_CRS", resourceTemplate(io(p.hotplugPort(), HOTPLUG_LENGTH))),
                operationRegion("PCST", SYSTEM_IO, p.hotplugPort(), HOTPLUG_LENGTH),
                field("PCST", DWORD_ACC, NO_LOCK, WRITE_AS_ZEROS,
                        FieldUnit.named("PCIU", 32),
                        FieldUnit.named("PCID", 32),
                        FieldUnit.named("B0EJ", 32),
                        FieldUnit.named("PSEG", 32)),
                // B0EJ = 1 << Arg0, as iasl compiles it: ShiftLeft (One, Arg0, B0EJ)
                method("PCEJ", 1, false, shiftLeft(integer(1), arg(0), ref("B0EJ"))),
                method("PSCN", 0, true, scan.toArray(new byte[0][])));
    }

    /**
     * {@code \_SB.GED_}, the Generic Event Device (ACPI0013, §5.6.9): an edge interrupt on {@code gedGsi}; its
     * _EVT reads the event register once (reading clears it) and dispatches PCI hotplug and the power button.
     */
    static byte[] ged(Platform p) {
        return device("GED_",
                name("_HID", string("ACPI0013")),
                name("_UID", integer(0)),
                name("_CRS", resourceTemplate(extendedInterrupt(true, true, false, false, p.gedGsi()))),
                operationRegion("GDST", SYSTEM_IO, p.gedPort(), 1),
                field("GDST", BYTE_ACC, NO_LOCK, WRITE_AS_ZEROS, FieldUnit.named("GDAT", 8)),
                method("_EVT", 1, true,
                        store(ref("GDAT"), local(0)),
                        ifThen(and(local(0), integer(GED_PCI_HOTPLUG), NULL_TARGET), call("\\_SB.PHPR.PSCN")),
                        ifThen(and(local(0), integer(GED_POWER_BUTTON), NULL_TARGET),
                                Aml.notify(ref("\\_SB.PWRB"), integer(NOTIFY_BUTTON)))));
    }

    /** {@code \_SB.PWRB}, a control-method power button (PNP0C0C, §4.8.2.2.1.2): the GED notifies it with 0x80. */
    static byte[] powerButton() {
        return device("PWRB",
                name("_HID", eisaId("PNP0C0C")),
                name("_UID", integer(0)));
    }

    static byte checksum(byte[] a, int off, int len) {
        int s = 0;
        for (int i = off; i < off + len; i++) {
            s += a[i];
        }
        return (byte) -s;
    }

    /** Sum of all bytes modulo 256 (0 for a valid table). */
    public static int sum(byte[] a, int len) {
        int s = 0;
        for (int i = 0; i < len; i++) {
            s += a[i] & 0xff;
        }
        return s & 0xff;
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }
}

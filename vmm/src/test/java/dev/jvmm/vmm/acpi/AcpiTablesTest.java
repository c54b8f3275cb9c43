package dev.jvmm.vmm.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.vmm.devices.GedDevice;
import dev.jvmm.vmm.devices.PciHotplugController;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AcpiTablesTest {
    static final AcpiTables.Platform PLATFORM = new AcpiTables.Platform(2, 0xfec0_0000L, 0xfee0_0000L, 0xe000_0000L,
            255, 0xc000_0000L, 0x2000_0000L, 0x1_4000_0000L, 64L << 30, 0x600, 0x601, 0x602, 1, 0x3f8, 4, 0x505,
            GedDevice.PORT, GedDevice.GSI, PciHotplugController.PORT);

    @Test
    void everyTableHasAValidChecksumAndLength() {
        List<AcpiTables.Table> t = AcpiTables.build(PLATFORM, 0xe0000);
        assertEquals(List.of("RSDP", "XSDT", "FACP", "DSDT", "APIC", "MCFG"), t.stream().map(AcpiTables.Table::signature).toList());
        for (AcpiTables.Table x : t) {
            byte[] b = x.bytes();
            if (x.signature().equals("RSDP")) {
                assertEquals(0, AcpiTables.sum(b, 20), "RSDP checksum");
                assertEquals(0, AcpiTables.sum(b, 36), "RSDP extended checksum");
                continue;
            }
            ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(x.signature(), new String(b, 0, 4, StandardCharsets.US_ASCII));
            assertEquals(b.length, bb.getInt(4), x.signature() + " length");
            assertEquals(0, AcpiTables.sum(b, b.length), x.signature() + " checksum");
        }
        // XSDT points at FADT, MADT, MCFG; FADT's X_DSDT at the DSDT
        ByteBuffer xsdt = ByteBuffer.wrap(t.get(1).bytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(t.get(2).address(), xsdt.getLong(36));
        assertEquals(t.get(4).address(), xsdt.getLong(44));
        assertEquals(t.get(5).address(), xsdt.getLong(52));
        ByteBuffer fadt = ByteBuffer.wrap(t.get(2).bytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(276, fadt.getInt(4));
        assertEquals(t.get(3).address(), fadt.getLong(140));
        assertEquals(1 << 20 | 1 << 10, fadt.getInt(112) & (1 << 20 | 1 << 10), "HW_REDUCED_ACPI and RESET_REG_SUP");
        assertEquals(0x600, fadt.getLong(248), "sleep control register address");
    }

    @Test
    void amlEncodings() {
        assertEquals("0c41d00a08", hex(Aml.eisaId("PNP0A08")));
        assertEquals("0c41d00501", hex(Aml.eisaId("PNP0501")));
        assertEquals("5c2f035f53425f504349305f435253", hex(Aml.nameString("\\_SB.PCI0._CRS")));
        assertEquals("01", hex(Aml.pkgLength(0)));
        assertEquals("3f", hex(Aml.pkgLength(0x3e)));
        assertEquals("4104", hex(Aml.pkgLength(0x3f))); // 0x41 bytes in all: two-byte encoding
    }

    /**
     * The statement, region, field and resource encodings the DSDT's hotplug and GED objects use, against bytes
     * worked out from ACPI 6.5 §20.2 (AML grammar) and §6.4.3.6 (Extended Interrupt Descriptor); iasl 20200925
     * compiles the same ASL to the same bytes.
     */
    @Test
    void amlStatementEncodings() {
        // MethodOp PkgLength NameString MethodFlags(ArgCount 2:0, SerializeFlag 3) TermList
        assertEquals("1408" + "5053434e" + "08" + "a400", hex(Aml.method("PSCN", 0, true, Aml.returnOf(Aml.integer(0)))));
        assertEquals("1416" + "5f454a30" + "01" + "5c2f03" + "5f53425f" + "50485052" + "5043454a" + "01",
                hex(Aml.method("_EJ0", 1, false, Aml.call("\\_SB.PHPR.PCEJ", Aml.integer(1)))));
        assertEquals(hex(Aml.methodReturning("_STA", Aml.integer(0x0f))),
                hex(Aml.method("_STA", 0, false, Aml.returnOf(Aml.integer(0x0f)))));
        // IfOp PkgLength Predicate TermList; AndOp Operand Operand Target(NullName); NotifyOp Object Value
        assertEquals("a013" + "7b600a0200" + "865c2e" + "5f53425f" + "50575242" + "0a80",
                hex(Aml.ifThen(Aml.and(Aml.local(0), Aml.integer(2), Aml.NULL_TARGET),
                        Aml.notify(Aml.ref("\\_SB.PWRB"), Aml.integer(0x80)))));
        assertEquals("790168" + "4230454a", hex(Aml.shiftLeft(Aml.integer(1), Aml.arg(0), Aml.ref("B0EJ"))));
        assertEquals("70" + "47444154" + "60", hex(Aml.store(Aml.ref("GDAT"), Aml.local(0))));
        assertEquals("93690a03", hex(Aml.lequal(Aml.arg(1), Aml.integer(3))));
        assertEquals("9267", hex(Aml.lnot(Aml.local(7))));
        assertEquals("a40cffffffff", hex(Aml.returnOf(Aml.integer(0xffff_ffffL))));
        assertEquals("6e", hex(Aml.arg(6)));
        assertThrows(IllegalArgumentException.class, () -> Aml.local(8));
        assertThrows(IllegalArgumentException.class, () -> Aml.arg(7));
        assertThrows(IllegalArgumentException.class, () -> Aml.method("X", 8, false));
        // OpRegionOp(5B 80) NameString RegionSpace RegionOffset RegionLen
        assertEquals("5b80" + "50435354" + "01" + "0b2006" + "0a10",
                hex(Aml.operationRegion("PCST", Aml.SYSTEM_IO, 0x620, 16)));
        // FieldOp(5B 81) PkgLength NameString FieldFlags(AccessType 3:0, LockRule 4, UpdateRule 6:5) FieldList;
        // NamedField = NameSeg PkgLength(bits), ReservedField = 00 PkgLength(bits); 64 bits takes two bytes
        assertEquals("5b8113" + "50435354" + "43" + "5043495520" + "0020" + "574944454004",
                hex(Aml.field("PCST", Aml.DWORD_ACC, Aml.NO_LOCK, Aml.WRITE_AS_ZEROS,
                        Aml.FieldUnit.named("PCIU", 32), Aml.FieldUnit.reserved(32), Aml.FieldUnit.named("WIDE", 64))));
        assertEquals("5b810b" + "47445354" + "11" + "4744415408",
                hex(Aml.field("GDST", Aml.BYTE_ACC, Aml.LOCK, Aml.PRESERVE, Aml.FieldUnit.named("GDAT", 8))));
        // Extended Interrupt: 0x89, length 6, flags (consumer 0, edge 1, active low 2, shared 3), count, DWord GSI
        assertEquals("890600" + "03" + "01" + "05000000", hex(Aml.extendedInterrupt(true, true, false, false, 5)));
        assertEquals("890600" + "0d" + "01" + "78563412",
                hex(Aml.extendedInterrupt(true, false, true, true, 0x12345678)));
        // PkgLength without counting itself (field widths)
        assertEquals("3f", hex(Aml.pkgLengthValue(0x3f)));
        assertEquals("4004", hex(Aml.pkgLengthValue(0x40)));
        assertEquals("4fff", hex(Aml.pkgLengthValue(0xfff)));
        assertEquals("800001", hex(Aml.pkgLengthValue(0x1000)));
        // NameSeg: lead A-Z or _, then A-Z, 0-9, _; padded with _
        assertEquals("5330315f", hex(Aml.nameSeg("S01")));
        for (String bad : List.of("s01", "1ABC", "ABCDE", "A-B", "")) {
            assertThrows(IllegalArgumentException.class, () -> Aml.nameSeg(bad), bad);
        }
    }

    /**
     * The GED, the power button, the hotplug controller and the 31 slot devices as iasl disassembles them; and the
     * disassembly compiles back (iasl -oa: no optimisations) to the very bytes jvmm wrote.
     */
    @Test
    void dsdtHotplugAndGedObjects(@TempDir Path dir) throws Exception {
        byte[] dsdt = AcpiTables.build(PLATFORM, 0xe0000).stream().filter(t -> t.signature().equals("DSDT"))
                .findFirst().orElseThrow().bytes();
        Files.write(dir.resolve("dsdt.dat"), dsdt);
        String out = iasl(dir, "-d", "dsdt.dat");
        assertFalse(out.contains("Error") || out.contains("Warning"), out);
        String dsl = Files.readString(dir.resolve("dsdt.dsl"));
        String flat = dsl.replaceAll("//[^\\n]*", "").replaceAll("/\\*.*?\\*/", "").replaceAll("\\s+", " ");
        for (String s : List.of(
                "Device (GED) { Name (_HID, \"ACPI0013\" ) Name (_UID, Zero)",
                "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 0x00000005, }",
                "OperationRegion (GDST, SystemIO, 0x0610, One) Field (GDST, ByteAcc, NoLock, WriteAsZeros) { GDAT, 8 }",
                "Method (_EVT, 1, Serialized) { Local0 = GDAT If ((Local0 & One)) { \\_SB.PHPR.PSCN () }"
                        + " If ((Local0 & 0x02)) { Notify (\\_SB.PWRB, 0x80) } }",
                "Device (PWRB) { Name (_HID, EisaId (\"PNP0C0C\") ) Name (_UID, Zero) }",
                "Device (PHPR) { Name (_HID, \"PNP0A06\" ) Name (_UID, Zero) Name (_STA, 0x0B)",
                "OperationRegion (PCST, SystemIO, 0x0620, 0x10) Field (PCST, DWordAcc, NoLock, WriteAsZeros)"
                        + " { PCIU, 32, PCID, 32, B0EJ, 32, PSEG, 32 }",
                "Method (PCEJ, 1, NotSerialized) { B0EJ = (One << Arg0) }",
                "Method (PSCN, 0, Serialized) { Local0 = PCIU Local1 = PCID If ((Local0 & 0x02))")) {
            assertTrue(flat.contains(s), "DSDT disassembly lacks " + s + ":\n" + dsl);
        }
        int pci0 = flat.indexOf("Device (PCI0)"), com1 = flat.indexOf("Device (COM1)");
        for (int slot = 1; slot <= 31; slot++) {
            String name = String.format("S%02d", slot);
            String dev = "Device (" + name + ") { Name (_ADR, " + asl((long) slot << 16) + ") Name (_SUN, " + asl(slot)
                    + ") Method (_EJ0, 1, NotSerialized) { \\_SB.PHPR.PCEJ (" + asl(slot) + ") } }";
            int at = flat.indexOf(dev);
            assertTrue(at > pci0 && at < com1, "no slot device under PCI0: " + dev + "\n" + dsl);
            String mask = asl(1L << slot);
            assertTrue(flat.contains("If ((Local0 & " + mask + ")) { Notify (\\_SB.PCI0." + name + ", One) }"), name);
            assertTrue(flat.contains("If ((Local1 & " + mask + ")) { Notify (\\_SB.PCI0." + name + ", 0x03) }"), name);
        }
        assertFalse(flat.contains("Device (S00)") || flat.contains("Device (S32)"), dsl);

        // back to AML; the one warning (PCI0 has both _HID and _ADR) is about the host bridge as it always was
        Files.writeString(dir.resolve("re.dsl"), dsl);
        out = iasl(dir, "-oa", "-vw", "3073", "re.dsl");
        assertTrue(out.contains("Compilation successful. 0 Errors, 0 Warnings"), out);
        byte[] aml = Files.readAllBytes(dir.resolve("re.aml"));
        assertEquals(hex(java.util.Arrays.copyOfRange(dsdt, 36, dsdt.length)),
                hex(java.util.Arrays.copyOfRange(aml, 36, aml.length)), "iasl compiled the disassembly differently");
    }

    /** How iasl prints an integer constant. */
    private static String asl(long v) {
        return v == 0 ? "Zero" : v == 1 ? "One" : v <= 0xff ? String.format("0x%02X", v)
                : v <= 0xffff ? String.format("0x%04X", v) : String.format("0x%08X", v);
    }

    private static String iasl(Path dir, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("/usr/bin/iasl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    /** Disassembles every generated table with ACPICA's iasl: no errors, no warnings, right signatures. */
    @Test
    void iaslDisassemblesEveryTableCleanly(@TempDir Path dir) throws Exception {
        Path iasl = Path.of("/usr/bin/iasl");
        assertTrue(Files.isExecutable(iasl), "iasl is required: apt-get install acpica-tools");
        for (AcpiTables.Table t : AcpiTables.build(PLATFORM, 0xe0000)) {
            if (t.signature().equals("RSDP")) {
                continue; // not a table with a header: iasl -d refuses it; its checksums are checked above
            }
            String base = t.signature().toLowerCase(Locale.ROOT);
            Path bin = dir.resolve(base + ".dat");
            Files.write(bin, t.bytes());
            Process p = new ProcessBuilder(iasl.toString(), "-d", bin.toString()).directory(dir.toFile())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            assertFalse(out.contains("Error") || out.contains("Warning") || out.toLowerCase(Locale.ROOT).contains("checksum"),
                    t.signature() + ": " + out);
            String dsl = Files.readString(dir.resolve(base + ".dsl"));
            assertTrue(dsl.contains("\"" + t.signature() + "\""),
                    t.signature() + " not named in the disassembly");
            if (t.signature().equals("DSDT")) {
                for (String s : List.of("PNP0A08", "PNP0A03", "PNP0501", "_PRT", "WordBusNumber", "QWordMemory",
                        "Name (\\_S5, Package (0x02)", "Name (_HID, \"QEMU0001\")",
                        "0x0505")) {
                    assertTrue(dsl.contains(s), "DSDT disassembly lacks " + s + ":\n" + dsl);
                }
            }
            if (t.signature().equals("FACP")) {
                assertTrue(dsl.contains("Hardware Reduced (V5) : 1"), dsl);
            }
        }
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02x", x));
        }
        return s.toString();
    }

}

package dev.jvmm.vmm.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
            255, 0xc000_0000L, 0x2000_0000L, 0x1_4000_0000L, 64L << 30, 0x600, 0x601, 0x602, 1, 0x3f8, 4, 0x505);

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

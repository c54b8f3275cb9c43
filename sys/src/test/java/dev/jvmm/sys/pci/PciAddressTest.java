package dev.jvmm.sys.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PciAddressTest {
    @Test
    void parsesFullAndShortFormsToTheCanonicalLowerCaseForm() {
        assertEquals(new PciAddress(0, 1, 0x10, 2), PciAddress.parse("0000:01:10.2"));
        assertEquals("0000:01:10.0", PciAddress.parse(" 01:10.0 ").toString());
        assertEquals("0000:af:1f.7", PciAddress.parse("0000:AF:1F.7").toString());
        assertEquals("10000:e0:06.0", PciAddress.parse("10000:e0:06.0").toString(), "a VMD domain");
        assertEquals(0x0182, PciAddress.parse("0000:01:10.2").bdf());
        assertTrue(PciAddress.looksLike("03:00.0"));
        assertFalse(PciAddress.looksLike("eth0"));
    }

    @Test
    void badInputIsNamedInTheError() {
        for (String bad : new String[] {"", "1:10.0", "0000:01:10.8", "0000:01:10", "../../etc", "0000:01:10.0/../x",
            "1:2:3", "0000:01:20.0"}) {
            PciException e = assertThrows(PciException.class, () -> PciAddress.parse(bad), bad);
            assertEquals(PciException.Reason.BAD_ADDRESS, e.reason());
            assertEquals("'" + bad + "' is not a PCI address (expected DDDD:BB:DD.F, for example 0000:01:00.0)",
                    e.getMessage());
        }
        assertEquals(PciException.Reason.BAD_ADDRESS, assertThrows(PciException.class, () -> PciAddress.parse(null)).reason());
        assertThrows(IllegalArgumentException.class, () -> new PciAddress(0, 0, 32, 0));
    }

    @Test
    void sortsByDomainBusDeviceFunction() {
        List<PciAddress> l = new ArrayList<>(List.of(PciAddress.parse("0001:00:00.0"), PciAddress.parse("0000:01:10.2"),
                PciAddress.parse("0000:01:02.0"), PciAddress.parse("0000:00:1f.7")));
        l.sort(null);
        assertEquals("[0000:00:1f.7, 0000:01:02.0, 0000:01:10.2, 0001:00:00.0]", l.toString());
    }
}

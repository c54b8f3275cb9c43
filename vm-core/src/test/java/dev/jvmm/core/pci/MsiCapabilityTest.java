package dev.jvmm.core.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The emulated MSI capability as a guest driver programs it through config space. */
class MsiCapabilityTest {
    @Test
    void aGuestEnablesFourVectorsWithAMessageAndMasks() {
        PciFunction f = new PciFunction("t", 0x8086, 0x10d3, 0x020000, 0, false);
        MsiCapability msi = MsiCapability.install(f, 2); // 4 vectors
        int c = msi.offset();
        assertEquals(MsiCapability.CAP_ID, f.configRead(c, 1));
        int ctl = f.configRead(c + MsiCapability.CONTROL, 2);
        assertEquals(2, (ctl >>> 1) & 7, "Multiple Message Capable = log2(4)");
        assertTrue((ctl & MsiCapability.CONTROL_64BIT) != 0 && (ctl & MsiCapability.CONTROL_PER_VECTOR_MASK) != 0);
        // what Linux's msi_capability_init does: mask, message, then enable with MME
        f.configWrite(c + MsiCapability.MASK, 4, 0xffffffff);
        assertEquals(0xf, f.configRead(c + MsiCapability.MASK, 4), "only the 4 capable vectors' mask bits exist");
        f.configWrite(c + MsiCapability.ADDRESS_LO, 4, 0xfee00003);
        f.configWrite(c + MsiCapability.ADDRESS_HI, 4, 0);
        f.configWrite(c + MsiCapability.DATA, 2, 0x4123);
        f.configWrite(c + MsiCapability.CONTROL, 2, 0x7 << 4 | MsiCapability.CONTROL_ENABLE | 0xe); // MME 7 > MMC
        assertTrue(msi.enabled());
        assertEquals(4, msi.vectors(), "MME above MMC is clipped");
        assertEquals(0xfee00000L, msi.address(), "the address is dword aligned");
        assertEquals(0x4120, msi.data(0));
        assertEquals(0x4123, msi.data(3));
        assertEquals(2, (f.configRead(c + MsiCapability.CONTROL, 2) >>> 1) & 7, "MMC is read-only");
        f.configWrite(c + MsiCapability.MASK, 4, 0b0100);
        assertTrue(msi.masked(2));
        assertFalse(msi.masked(0));
        f.configWrite(c + MsiCapability.PENDING, 4, 0xff);
        assertEquals(0, f.configRead(c + MsiCapability.PENDING, 4), "the guest cannot write Pending Bits");
        msi.setPending(0b0100);
        assertEquals(0b0100, f.configRead(c + MsiCapability.PENDING, 4));
        assertTrue(msi.configWritten(c + MsiCapability.MASK, 4));
        assertFalse(msi.configWritten(0x04, 2));
        assertThrows(IllegalArgumentException.class, () -> MsiCapability.install(f, 6));
    }
}

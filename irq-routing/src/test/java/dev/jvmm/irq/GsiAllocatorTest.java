package dev.jvmm.irq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class GsiAllocatorTest {
    @Test
    void allocatesLowestFreeAndReusesFreed() {
        GsiAllocator a = new GsiAllocator(24, 27);
        assertEquals(24, a.allocate());
        assertEquals(25, a.allocate());
        assertEquals(26, a.allocate());
        IrqRoutingException e = assertThrows(IrqRoutingException.class, a::allocate);
        assertEquals(IrqRoutingException.Reason.GSI_EXHAUSTED, e.reason());
        a.free(25);
        assertEquals(25, a.allocate());
        assertEquals(3, a.inUse());
    }

    @Test
    void freeingALegacyOrUnallocatedGsiIsRefused() {
        GsiAllocator a = new GsiAllocator(24, 100);
        assertEquals(IrqRoutingException.Reason.INVALID_GSI, assertThrows(IrqRoutingException.class, () -> a.free(4)).reason());
        assertEquals(IrqRoutingException.Reason.INVALID_GSI, assertThrows(IrqRoutingException.class, () -> a.free(30)).reason());
    }
}

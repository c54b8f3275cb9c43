package dev.jvmm.virtio.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The features vhost-net is given: the ring features the driver negotiated, never the VMM's or the TAP's. */
class VhostNetTest {
    static final long VERSION_1 = 1L << 32, EVENT_IDX = 1L << 29, INDIRECT = 1L << 28, MRG_RXBUF = 1L << 15;
    static final long CSUM = 1L, CTRL_VQ = 1L << 17, MQ = 1L << 22, LOG_ALL = 1L << 26;
    /** What a 6.x vhost-net offers (GET_FEATURES): the ring features, MRG_RXBUF, LOG_ALL, VNET_HDR, ACCESS_PLATFORM. */
    static final long OFFERED = VERSION_1 | EVENT_IDX | INDIRECT | MRG_RXBUF | LOG_ALL | 1L << 27 | 1L << 33;

    @Test
    void onlyTheNegotiatedRingFeaturesGoToTheKernel() {
        long guest = VERSION_1 | EVENT_IDX | MRG_RXBUF | CSUM | CTRL_VQ | MQ;
        assertEquals(VERSION_1 | EVENT_IDX | MRG_RXBUF, VhostNet.vhostFeatures(guest, OFFERED));
        assertEquals(VERSION_1 | INDIRECT, VhostNet.vhostFeatures(VERSION_1 | INDIRECT, OFFERED));
    }

    @Test
    void aNegotiatedRingFeatureTheKernelLacksIsRefusedByName() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> VhostNet.vhostFeatures(VERSION_1 | EVENT_IDX, OFFERED & ~EVENT_IDX));
        assertTrue(e.getMessage().contains("lacks negotiated features 0x20000000"), e.getMessage());
    }
}

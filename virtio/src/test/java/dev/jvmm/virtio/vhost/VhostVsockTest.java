package dev.jvmm.virtio.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.vhost.VhostFd;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * vhost-vsock without the kernel's (unit tier): the features it is given, a CID refused before any fd is opened, a
 * refused setup closing the fd it took, and a missing {@code /dev/vhost-vsock} naming {@code modprobe vhost_vsock}.
 */
class VhostVsockTest {
    static final long VERSION_1 = 1L << 32, EVENT_IDX = 1L << 29, INDIRECT = 1L << 28, SEQPACKET = 1L << 1;
    /** What a 6.x vhost-vsock offers: VHOST_FEATURES (ring bits, ANY_LAYOUT, LOG_ALL), ACCESS_PLATFORM, SEQPACKET. */
    static final long OFFERED = VERSION_1 | EVENT_IDX | INDIRECT | 1L << 27 | 1L << 26 | 1L << 33 | SEQPACKET;

    @Test
    void onlyTheNegotiatedRingFeaturesAndSeqpacketGoToTheKernel() {
        assertEquals(VERSION_1 | EVENT_IDX | SEQPACKET, VhostVsock.vhostFeatures(VERSION_1 | EVENT_IDX | SEQPACKET, OFFERED));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> VhostVsock.vhostFeatures(VERSION_1 | SEQPACKET, OFFERED & ~SEQPACKET));
        assertTrue(e.getMessage().contains("vhost-vsock lacks negotiated features 0x2"), e.getMessage());
    }

    @Test
    void aReservedCidIsRefusedBeforeAnythingIsOpened() {
        assertThrows(IllegalArgumentException.class, () -> VhostVsock.open("virtio-vsock-0", 2));
    }

    @Test
    void aRefusedSetupNamesTheIoctlAndClosesTheFd() {
        Fd fd = Fd.open("/dev/null", Native.O_RDWR);
        ErrnoException e = assertThrows(ErrnoException.class, () -> new VhostVsock("virtio-vsock-0", new VhostFd(fd), 3));
        assertEquals("VHOST_SET_OWNER", e.op());
        assertTrue(!fd.isOpen(), "the fd is closed");
    }

    @Test
    void aMissingDevVhostVsockSaysModprobeVhostVsock() {
        if (Files.exists(Path.of(VhostFd.DEV_VHOST_VSOCK))) {
            System.out.println("skipped: this host has /dev/vhost-vsock");
            return;
        }
        ErrnoException e = assertThrows(ErrnoException.class, () -> VhostVsock.open("virtio-vsock-0", 3));
        assertTrue(e.getMessage().contains("modprobe vhost_vsock"), e.getMessage());
        System.out.println("as expected: " + e.getMessage());
    }
}

package dev.jvmm.sys.vsock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.testing.HeaderCheck;
import dev.jvmm.sys.testing.OpenFds;
import dev.jvmm.sys.vsock.uapi.SockaddrVm;
import dev.jvmm.sys.vsock.uapi.VsockConstants;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The AF_VSOCK binding without a VM (unit tier): the {@code struct sockaddr_vm} it writes, as gcc reads it through
 * {@code <linux/vm_sockets.h>} (the layout constants themselves are checked by HeaderLayoutTest), addresses out of
 * range refused by name, and a connect to a CID no VM has failing with a named error and no fd left behind.
 */
class VsockSocketTest {
    @Test
    void sockaddrVmBytesAreTheOnesTheKernelHeaderDescribes(@TempDir Path tmp) throws Exception {
        Path bin = tmp.resolve("svm.bin");
        try (NativeBuffer b = new NativeBuffer(SockaddrVm.SIZEOF)) {
            for (int i = 0; i < SockaddrVm.SIZEOF; i++) {
                b.putByte(i, 0xa5); // every byte must be written
            }
            VsockSocket.putSockaddrVm(b, 0xFFFF_FFFEL, 0x8000_1234L);
            byte[] a = new byte[SockaddrVm.SIZEOF];
            b.get(0, a, 0, a.length);
            Files.write(bin, a);
        }
        String c = """
                #include <stdio.h>
                #include <string.h>
                #include <sys/socket.h>
                #include <linux/vm_sockets.h>
                int main(int argc, char **argv) {
                    struct sockaddr_vm a;
                    unsigned char z[sizeof a.svm_zero] = {0};
                    FILE *f = fopen(argv[1], "rb");
                    size_t n = fread(&a, 1, sizeof a, f);
                    printf("bytes %zu sizeof %zu family %u reserved1 %u port %u cid %u flags %u zero %d\\n", n, sizeof a,
                           a.svm_family, a.svm_reserved1, a.svm_port, a.svm_cid, a.svm_flags,
                           memcmp(a.svm_zero, z, sizeof z) == 0);
                    return 0;
                }
                """;
        String out = HeaderCheck.compileAndRun("svm_decode", c, tmp, bin.toString()).strip();
        assertEquals("bytes 16 sizeof 16 family 40 reserved1 0 port " + 0x8000_1234L + " cid " + 0xFFFF_FFFEL
                + " flags 0 zero 1", out);
    }

    @Test
    void cidsAndPortsBeyond32BitsAreRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VsockSocket.connect(1L << 32, 5));
        assertEquals("vsock CID 4294967296 is not a 32-bit unsigned number", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> VsockSocket.listen(VsockConstants.VMADDR_CID_ANY, -1, 1));
        assertEquals("vsock port -1 is not a 32-bit unsigned number", e.getMessage());
    }

    @Test
    void connectingToACidNoVmHasNamesTheAddressAndLeaksNoFd() {
        // CID 0xfffffff0: no VM of this host has it (jvmm's tests never give it out)
        Runnable once = () -> {
            ErrnoException e = assertThrows(ErrnoException.class, () -> VsockSocket.connect(0xFFFF_FFF0L, 1234));
            System.out.println("as expected: " + e.getMessage());
            if (e.op().equals("socket")) { // a kernel without AF_VSOCK
                assertEquals("EAFNOSUPPORT", e.errnoName(), e.getMessage());
                assertTrue(e.getMessage().contains("modprobe vhost_vsock"), e.getMessage());
            } else {
                assertEquals("connect", e.op(), e.getMessage());
                assertTrue(e.context().startsWith("vsock cid=4294967280 port=1234"), e.getMessage());
            }
        };
        once.run();
        Map<Integer, String> before = OpenFds.now();
        once.run(); // a connect the host's transport forwards times out after 2 s: few tries
        once.run();
        assertEquals(List.of(), OpenFds.leaked(before));
    }

    @Test
    void aListeningSocketBindsAnyCidAndClosesCleanly() {
        Map<Integer, String> before = OpenFds.now();
        try (VsockSocket s = VsockSocket.listen(VsockConstants.VMADDR_CID_ANY, 0x7a5e_0001L, 4)) {
            assertEquals(-1, s.peerCid());
            ErrnoException e = assertThrows(ErrnoException.class,
                    () -> VsockSocket.listen(VsockConstants.VMADDR_CID_ANY, 0x7a5e_0001L, 4));
            assertEquals("bind failed: EADDRINUSE (Address already in use) [vsock cid=any port=2052980737 (the port is "
                    + "taken)]", e.getMessage());
        } catch (ErrnoException e) {
            assertEquals("EAFNOSUPPORT", e.errnoName(), e.getMessage()); // a kernel without AF_VSOCK
        }
        assertEquals(List.of(), OpenFds.leaked(before));
    }
}

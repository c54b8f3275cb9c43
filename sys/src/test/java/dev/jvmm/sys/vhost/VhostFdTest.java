package dev.jvmm.sys.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.testing.OpenFds;
import dev.jvmm.sys.vhost.VhostFd.MemoryRegion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * VhostFd without a vhost device (unit tier): opening a missing node names it and leaves no fd behind, and every
 * ioctl sent to an fd that is not vhost (/dev/null answers ENOTTY to all of them) fails naming the ioctl, the fd, the
 * ring index and the arguments.
 */
class VhostFdTest {
    @Test
    void openNamesDevVhostNetWhenItIsMissingAndLeaksNoFd() throws IOException {
        Path dev = Path.of(VhostFd.DEV_VHOST_NET);
        boolean usable = Files.isReadable(dev) && Files.isWritable(dev);
        openOnce(usable); // loads the classes (and their jars) the path needs before fds are counted
        java.util.Map<Integer, String> before = openFds();
        for (int i = 0; i < 20; i++) {
            openOnce(usable);
        }
        assertEquals(java.util.List.of(), OpenFds.leaked(before), "open fds after 20 " + (usable ? "opens and closes" : "failed opens"));
    }

    private static void openOnce(boolean usable) {
        if (usable) { // a host with vhost-net (a developer's machine): open and close, nothing else
            try (VhostFd v = VhostFd.open()) {
                assertTrue(v.fd().isOpen());
                assertEquals(VhostFd.DEV_VHOST_NET, v.fd().name());
            }
            return;
        }
        ErrnoException e = assertThrows(ErrnoException.class, VhostFd::open);
        assertEquals("open", e.op());
        assertEquals(VhostFd.DEV_VHOST_NET, e.context());
        assertTrue(e.getMessage().startsWith("open failed: E") && e.getMessage().endsWith(" [/dev/vhost-net]"),
                e.getMessage());
        assertTrue(List.of("ENOENT", "EACCES", "EPERM", "ENODEV", "ENXIO").contains(e.errnoName()), e.getMessage());
    }

    @Test
    void openOfAMissingNodeNamesThePathAndErrnoAndLeaksNoFd(@TempDir Path tmp) throws IOException {
        String missing = tmp.resolve("vhost-net").toString();
        assertThrows(ErrnoException.class, () -> VhostFd.open(missing));
        java.util.Map<Integer, String> before = openFds();
        for (int i = 0; i < 20; i++) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> VhostFd.open(missing));
            assertEquals("open failed: ENOENT (No such file or directory) [" + missing + "]", e.getMessage());
        }
        assertEquals(java.util.List.of(), OpenFds.leaked(before));
    }

    @Test
    void aMissingDevVhostVsockNamesModprobeVhostVsockAndLeaksNoFd(@TempDir Path tmp) throws IOException {
        String missing = tmp.resolve("vhost-vsock").toString();
        assertThrows(ErrnoException.class, () -> VhostFd.openVsock(missing));
        java.util.Map<Integer, String> before = openFds();
        for (int i = 0; i < 20; i++) {
            ErrnoException e = assertThrows(ErrnoException.class, () -> VhostFd.openVsock(missing));
            assertEquals("open failed: ENOENT (No such file or directory) [" + missing
                    + ": the host's vhost-vsock is not loaded: modprobe vhost_vsock]", e.getMessage());
        }
        assertEquals(java.util.List.of(), OpenFds.leaked(before));
        Path dev = Path.of(VhostFd.DEV_VHOST_VSOCK);
        if (!Files.exists(dev)) { // this build host: the real node is missing, and the message says what to do
            ErrnoException e = assertThrows(ErrnoException.class, VhostFd::openVsock);
            assertTrue(e.getMessage().contains("[/dev/vhost-vsock: ") && e.getMessage().contains("modprobe vhost_vsock"),
                    e.getMessage());
            System.out.println("as expected: " + e.getMessage());
        }
    }

    /** One ioctl wrapper and the context its failure must carry. */
    private record Case(String op, String context, Executable call) {
    }

    @Test
    void everyIoctlNamesItselfTheFdTheRingIndexAndErrnoWhenItFails() throws Throwable {
        java.util.Map<Integer, String> before = openFds();
        try (VhostFd v = new VhostFd(Fd.open("/dev/null", Native.O_RDWR))) {
            List<MemoryRegion> table = List.of(new MemoryRegion(0, 0x8000_0000L, 0x7f00_0000_0000L),
                    new MemoryRegion(0x1_0000_0000L, 0x4000_0000L, 0x7f00_8000_0000L));
            List<Case> cases = List.of(
                    new Case("VHOST_SET_OWNER", "/dev/null", v::setOwner),
                    new Case("VHOST_RESET_OWNER", "/dev/null", v::resetOwner),
                    new Case("VHOST_GET_FEATURES", "/dev/null", v::getFeatures),
                    new Case("VHOST_SET_FEATURES", "/dev/null features=0x130000000", () -> v.setFeatures(0x1_3000_0000L)),
                    new Case("VHOST_SET_MEM_TABLE", "/dev/null regions=2: gpa=0x0 size=0x80000000 hva=0x7f0000000000; "
                            + "gpa=0x100000000 size=0x40000000 hva=0x7f0080000000", () -> v.setMemTable(table)),
                    new Case("VHOST_SET_MEM_TABLE", "/dev/null regions=0", () -> v.setMemTable(List.of())),
                    new Case("VHOST_SET_LOG_BASE", "/dev/null log=0x7f1234560000", () -> v.setLogBase(0x7f12_3456_0000L)),
                    new Case("VHOST_SET_VRING_NUM", "/dev/null index=3 num=256", () -> v.setVringNum(3, 256)),
                    new Case("VHOST_SET_VRING_BASE", "/dev/null index=3 base=17", () -> v.setVringBase(3, 17)),
                    new Case("VHOST_GET_VRING_BASE", "/dev/null index=3", () -> v.getVringBase(3)),
                    new Case("VHOST_SET_VRING_ADDR", "/dev/null index=3 flags=0x1 desc=0x7f0000001000 used=0x7f0000003000"
                            + " avail=0x7f0000002000 log=0x3000",
                            () -> v.setVringAddr(3, 1, 0x7f00_0000_1000L, 0x7f00_0000_3000L, 0x7f00_0000_2000L, 0x3000)),
                    new Case("VHOST_SET_VRING_KICK", "/dev/null index=3 fd=41", () -> v.setVringKick(3, 41)),
                    new Case("VHOST_SET_VRING_CALL", "/dev/null index=3 fd=42", () -> v.setVringCall(3, 42)),
                    new Case("VHOST_SET_VRING_ERR", "/dev/null index=3 fd=-1", () -> v.setVringErr(3, -1)),
                    new Case("VHOST_NET_SET_BACKEND", "/dev/null index=1 fd=43", () -> v.netSetBackend(1, 43)),
                    new Case("VHOST_NET_SET_BACKEND", "/dev/null index=1 fd=-1", () -> v.netSetBackend(1, -1)),
                    new Case("VHOST_VSOCK_SET_GUEST_CID", "/dev/null cid=4294967294", () -> v.vsockSetGuestCid(0xFFFF_FFFEL)),
                    new Case("VHOST_VSOCK_SET_RUNNING", "/dev/null running=1", () -> v.vsockSetRunning(true)),
                    new Case("VHOST_VSOCK_SET_RUNNING", "/dev/null running=0", () -> v.vsockSetRunning(false)));
            for (Case c : cases) {
                ErrnoException e = assertThrows(ErrnoException.class, c.call(), c.op());
                assertEquals(c.op(), e.op());
                assertEquals("ENOTTY", e.errnoName(), c.op());
                assertEquals(c.context(), e.context(), c.op());
            }
            ErrnoException e = assertThrows(ErrnoException.class, () -> v.setVringNum(0, 256));
            assertEquals("VHOST_SET_VRING_NUM failed: ENOTTY (Inappropriate ioctl for device) [/dev/null index=0 num=256]",
                    e.getMessage());
            System.out.println("as expected: " + e.getMessage());
        }
        assertEquals(java.util.List.of(), OpenFds.leaked(before), "the adopted fd is closed with the VhostFd");
    }

    @Test
    void closeIsIdempotentAndAClosedVhostFdNamesItsFd() {
        VhostFd v = new VhostFd(Fd.open("/dev/null", Native.O_RDWR));
        v.close();
        v.close();
        assertFalse(v.fd().isOpen());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> v.setVringNum(0, 256));
        assertEquals("/dev/null is closed", e.getMessage());
        assertEquals("/dev/null is closed", assertThrows(IllegalStateException.class, v::getFeatures).getMessage());
        assertEquals("/dev/null is closed", assertThrows(IllegalStateException.class, () -> v.setMemTable(List.of()))
                .getMessage());

        Fd closed = Fd.open("/dev/null", Native.O_RDWR);
        closed.close();
        assertThrows(IllegalStateException.class, () -> new VhostFd(closed), "a closed fd is refused when adopted");
    }

    private static java.util.Map<Integer, String> openFds() {
        return OpenFds.now();
    }
}

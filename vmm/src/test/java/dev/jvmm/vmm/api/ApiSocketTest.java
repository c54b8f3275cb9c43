package dev.jvmm.vmm.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.vmm.VmmException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The socket file's life: bound in a private directory, linked into place 0600, removed only while it is ours. */
class ApiSocketTest {
    @TempDir
    Path tmp;

    private static String perms(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void boundInAFresh0700DirectoryThenLinkedIn0600() throws Exception {
        Path p = tmp.resolve("vm.sock");
        ApiSocket s = ApiSocket.prepare(p);
        Path dir = s.bindPath().getParent();
        assertEquals(tmp, dir.getParent(), "next to the socket, on the same file system");
        assertEquals("rwx------", perms(dir));
        assertFalse(Files.exists(p, LinkOption.NOFOLLOW_LINKS), "nothing at the path before publish");
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(s.bindPath()));
            s.publish();
            assertEquals("rw-------", perms(p));
            assertTrue(ApiSocket.isSocket(p));
            assertFalse(Files.exists(dir), "the private directory is gone");
            try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(p))) {
                assertTrue(c.isConnected(), "the published path reaches the bound socket");
            }
        }
        s.remove();
        assertFalse(Files.exists(p, LinkOption.NOFOLLOW_LINKS));
        try (var left = Files.list(tmp)) {
            assertEquals(List.of(), left.toList());
        }
    }

    @Test
    void aFileThatAppearsBeforePublishIsNotReplaced() throws Exception {
        Path p = tmp.resolve("vm.sock");
        ApiSocket s = ApiSocket.prepare(p);
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(s.bindPath()));
            Files.writeString(p, "someone else's");
            VmmException e = assertThrows(VmmException.class, s::publish);
            assertEquals(VmmException.Reason.CONFIG, e.reason());
            assertEquals("API socket " + p + ": exists (made while jvmm was starting; another jvmm?)", e.getMessage());
        }
        s.remove();
        assertEquals("someone else's", Files.readString(p));
        try (var left = Files.list(tmp)) {
            assertEquals(List.of(p), left.toList(), "the private directory is removed");
        }
    }

    @Test
    void removeLeavesAFileThatReplacedOurs() throws Exception {
        Path p = tmp.resolve("vm.sock");
        ApiSocket s = ApiSocket.prepare(p);
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(s.bindPath()));
            s.publish();
        }
        Files.delete(p);
        Files.writeString(p, "a newer jvmm's");
        s.remove();
        assertEquals("a newer jvmm's", Files.readString(p));
    }
}

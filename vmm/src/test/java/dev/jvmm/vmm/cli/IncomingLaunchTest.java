package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jvmm launch --incoming unix:PATH} fed streams that are not a migration it can take, through the whole CLI in
 * this JVM over a real unix socket: each ends the launch with exit 2 and an error naming what was wrong, before any
 * VM exists (no KVM needed), and the socket is gone afterwards.
 */
class IncomingLaunchTest {
    @TempDir
    Path dir;

    private String feed(String name, String hex) throws Exception {
        Path sock = dir.resolve(name + ".sock");
        CompletableFuture<CliRun> run = CompletableFuture.supplyAsync(() -> CliRun.of("launch", "--incoming",
                "unix:" + sock));
        for (int i = 0; i < 3000 && !Files.exists(sock); i++) {
            Thread.sleep(10);
        }
        assertTrue(Files.exists(sock), name + ": the destination listens");
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(sock));
            c.write(ByteBuffer.wrap(HexFormat.of().parseHex(hex)));
            c.shutdownOutput();
            ByteBuffer answer = ByteBuffer.allocate(4096);
            while (c.read(answer) >= 0 && answer.hasRemaining()) {
                // the destination's ERROR, then its end of the stream
            }
        }
        CliRun r = run.get(120, TimeUnit.SECONDS);
        assertEquals(LaunchCommand.EXIT_CONFIG, r.code(), name + ": " + r.err());
        assertTrue(!Files.exists(sock), name + ": the listening socket is removed");
        return r.err();
    }

    @Test
    void junkWrongVersionsAndTruncatedStreamsAreRefusedNamingWhy() throws Exception {
        String junk = feed("junk", "6a756e6b6a756e6b");
        assertTrue(junk.matches("(?s).*incoming migration.*not a jvmm migration.*"), junk);
        String version = feed("version", "000000014a564d4d4d49475200000063");
        assertTrue(version.matches("(?s).*incoming migration.*protocol version 99 is not supported.*"), version);
        String truncated = feed("truncated", "000000014a564d4d4d4947520000000200000002");
        assertTrue(truncated.matches("(?s).*incoming migration.*truncated.*"), truncated);
    }
}

package dev.jvmm.vmm.migration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jvmm.vmm.VmmException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The migration transport over real sockets, loopback only: unix and TCP streams both ways, one connection per
 * listener, clear text refused off loopback, mutual TLS with certificates made by openssl, timeouts.
 */
@Timeout(120) // a hang guard only: a stuck stream fails instead of holding the build
class MigrationTransportTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Duration SHORT = Duration.ofMillis(500);

    /** A thread per task: the common pool may have a single thread, and these tasks block on each other. */
    private static final ExecutorService THREADS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "migration-test");
        t.setDaemon(true);
        return t;
    });

    @TempDir
    Path tmp;

    /** Runs {@code client} in another thread. */
    private static <T> CompletableFuture<T> async(Supplier<T> client) {
        return CompletableFuture.supplyAsync(client, THREADS);
    }

    private static <T> T join(CompletableFuture<T> f) throws Exception {
        try {
            return f.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception x) {
                throw x;
            }
            throw e;
        }
    }

    /** The failure of {@code f}, which must fail with a VmmException. */
    private static VmmException failure(CompletableFuture<?> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof VmmException, String.valueOf(e.getCause()));
        return (VmmException) e.getCause();
    }

    /** A message and a reply: {@code server} and {@code client} each write, flush and read what the other wrote. */
    private static void exchange(Connection server, Connection client) throws Exception {
        client.out().writeInt(0x4a564d4d);
        client.out().writeUTF("hello from the source");
        client.out().flush();
        assertEquals(0x4a564d4d, server.in().readInt());
        assertEquals("hello from the source", server.in().readUTF());
        server.out().writeLong(-2L);
        server.out().writeUTF("ready");
        server.out().flush();
        assertEquals(-2L, client.in().readLong());
        assertEquals("ready", client.in().readUTF());
    }

    /**
     * 8 MiB each way at the same time, both sides writing before they read: with a side that could not read while
     * another thread of it writes, the socket buffers fill and this never ends.
     */
    private static void bothWaysAtOnce(Connection a, Connection b) throws Exception {
        byte[] one = new byte[8 << 20];
        byte[] two = new byte[8 << 20];
        new Random(1).nextBytes(one);
        new Random(2).nextBytes(two);
        CompletableFuture<Void> aWrites = CompletableFuture.runAsync(() -> write(a, one), THREADS);
        CompletableFuture<Void> bWrites = CompletableFuture.runAsync(() -> write(b, two), THREADS);
        byte[] atB = new byte[one.length];
        byte[] atA = new byte[two.length];
        CompletableFuture<Void> bReads = CompletableFuture.runAsync(() -> read(b, atB), THREADS);
        read(a, atA);
        join(bReads);
        join(aWrites);
        join(bWrites);
        assertArrayEquals(one, atB);
        assertArrayEquals(two, atA);
    }

    private static void write(Connection c, byte[] data) {
        try {
            c.out().write(data);
            c.out().flush();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static void read(Connection c, byte[] into) {
        try {
            c.in().readFully(into);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    @Test
    void unixRoundTripThroughAPrivateSocketThatIsThenRemoved() throws Exception {
        Path sock = tmp.resolve("mig.sock");
        Endpoint incoming = Endpoint.parse("unix:" + sock, "--incoming");
        try (MigrationTransport.Listener l = MigrationTransport.listen(incoming)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
            try (Stream1 s = new Stream1(l, Endpoint.parse("unix:" + sock, "destination"))) {
                assertFalse(Files.exists(sock), "the socket file is removed once a source is accepted");
                assertEquals("unix:" + sock, s.client.peer());
                assertTrue(s.server.peer().startsWith("unix:" + sock + " (user "), s.server.peer());
                assertFalse(s.server.encrypted());
                exchange(s.server, s.client);
                bothWaysAtOnce(s.server, s.client);
                s.client.close();
                assertEquals(-1, s.server.in().read(), "the source closed");
            }
        }
        try (var dir = Files.list(tmp)) {
            assertEquals(0, dir.count(), "neither the socket nor its private directory is left");
        }
    }

    /** A listener's one connection: the client connects in another thread, the listener accepts. */
    private static final class Stream1 implements AutoCloseable {
        final Connection server;
        final Connection client;

        Stream1(MigrationTransport.Listener l, Endpoint to) throws Exception {
            CompletableFuture<Connection> c = async(() -> MigrationTransport.connect(to, WAIT));
            Connection s;
            try {
                s = l.accept(WAIT);
            } catch (RuntimeException e) {
                c.thenAccept(Connection::close);
                throw e;
            }
            server = s;
            client = join(c);
        }

        @Override
        public void close() {
            client.close();
            server.close();
        }
    }

    @Test
    void tcpLoopbackRoundTrip() throws Exception {
        try (MigrationTransport.Listener l = MigrationTransport.listen(Endpoint.tcp("127.0.0.1", 0, null, false))) {
            assertTrue(l.port() > 0);
            assertEquals("tcp:127.0.0.1:" + l.port(), l.address());
            try (Stream1 s = new Stream1(l, Endpoint.parse("tcp:127.0.0.1:" + l.port(), "destination"))) {
                assertEquals("127.0.0.1:" + l.port(), s.client.peer());
                assertTrue(s.server.peer().startsWith("127.0.0.1:"), s.server.peer());
                assertFalse(s.client.encrypted());
                exchange(s.server, s.client);
                bothWaysAtOnce(s.server, s.client);
            }
        }
    }

    @Test
    void aSecondConnectionIsRefusedOnceTheFirstIsAccepted() throws Exception {
        try (MigrationTransport.Listener l = MigrationTransport.listen(Endpoint.tcp("127.0.0.1", 0, null, false))) {
            Endpoint to = Endpoint.parse("tcp:127.0.0.1:" + l.port(), "destination");
            try (Stream1 s = new Stream1(l, to)) {
                VmmException e = assertThrows(VmmException.class, () -> MigrationTransport.connect(to, WAIT));
                assertEquals(VmmException.Reason.HOST, e.reason(), e.getMessage());
                assertTrue(e.getMessage().contains("connection refused"), e.getMessage());
                exchange(s.server, s.client); // the first one is unharmed
            }
        }
        Path sock = tmp.resolve("one.sock");
        try (MigrationTransport.Listener l = MigrationTransport.listen(Endpoint.unix(sock))) {
            try (Stream1 s = new Stream1(l, Endpoint.unix(sock))) {
                VmmException e = assertThrows(VmmException.class,
                        () -> MigrationTransport.connect(Endpoint.unix(sock), WAIT));
                assertEquals(VmmException.Reason.HOST, e.reason(), e.getMessage());
                assertTrue(e.getMessage().startsWith("migration to unix:" + sock + ": cannot connect"), e.getMessage());
                exchange(s.server, s.client);
            }
            assertThrows(IllegalStateException.class, () -> l.accept(WAIT), "a listener accepts once");
        }
    }

    @Test
    void clearTextOffLoopbackIsRefusedUnlessInsecure() throws Exception {
        VmmException e = assertThrows(VmmException.class,
                () -> MigrationTransport.listen(Endpoint.parse("tcp:0.0.0.0:4444", "--incoming")));
        assertEquals(VmmException.Reason.CONFIG, e.reason(), e.getMessage());
        assertTrue(e.getMessage().startsWith("incoming migration on tcp:0.0.0.0:4444: refusing to listen without TLS"
                + " on 0.0.0.0, which is not a loopback address: the migration stream carries the guest's memory and"
                + " state in clear text"), e.getMessage());
        assertTrue(e.getMessage().contains("Use tls-dir=DIR (mutual TLS), or insecure=on"), e.getMessage());

        try (MigrationTransport.Listener l = MigrationTransport.listen(Endpoint.tcp("0.0.0.0", 0, null, true));
                Stream1 s = new Stream1(l, Endpoint.parse("tcp:127.0.0.1:" + l.port(), "destination"))) {
            exchange(s.server, s.client);
        }

        VmmException out = assertThrows(VmmException.class,
                () -> MigrationTransport.connect(Endpoint.parse("tcp:127.0.0.1:1,insecure=on", "destination"), WAIT));
        assertEquals(VmmException.Reason.CONFIG, out.reason(), out.getMessage());
        assertEquals("migration to tcp:127.0.0.1:1: insecure=on is an option of the receiving side (--incoming) only",
                out.getMessage());
    }

    @Test
    void noSourceWithinTheTimeout() {
        VmmException t = assertThrows(VmmException.class,
                () -> MigrationTransport.accept(Endpoint.tcp("127.0.0.1", 0, null, false), SHORT));
        assertEquals(VmmException.Reason.TIMEOUT, t.reason(), t.getMessage());
        assertTrue(t.getMessage().matches("incoming migration on tcp:127\\.0\\.0\\.1:\\d+: no source connected within"
                + " 500 ms"), t.getMessage());

        Path sock = tmp.resolve("idle.sock");
        VmmException u = assertThrows(VmmException.class,
                () -> MigrationTransport.accept(Endpoint.unix(sock), SHORT));
        assertEquals(VmmException.Reason.TIMEOUT, u.reason(), u.getMessage());
        assertEquals("incoming migration on unix:" + sock + ": no source connected within 500 ms", u.getMessage());
        assertFalse(Files.exists(sock), "the socket file is removed when the listener closes");
    }

    @Test
    void aStaleSocketIsReplacedAnythingElseIsNot() throws Exception {
        Path file = Files.writeString(tmp.resolve("taken"), "x");
        VmmException e = assertThrows(VmmException.class, () -> MigrationTransport.listen(Endpoint.unix(file)));
        assertEquals(VmmException.Reason.CONFIG, e.reason(), e.getMessage());
        assertTrue(e.getMessage().endsWith(file + " exists and is not a socket"), e.getMessage());

        Path sock = tmp.resolve("busy.sock");
        try (MigrationTransport.Listener first = MigrationTransport.listen(Endpoint.unix(sock))) {
            assertEquals("unix:" + sock, first.address());
            VmmException busy = assertThrows(VmmException.class,
                    () -> MigrationTransport.listen(Endpoint.unix(sock)));
            assertTrue(busy.getMessage().endsWith(sock + " exists and another process listens there"),
                    busy.getMessage());
        }
        // a socket file nobody listens on, as a killed jvmm leaves it
        try (var stale = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            stale.bind(java.net.UnixDomainSocketAddress.of(sock));
        }
        assertTrue(Files.exists(sock));
        try (MigrationTransport.Listener l = MigrationTransport.listen(Endpoint.unix(sock));
                Stream1 s = new Stream1(l, Endpoint.unix(sock))) {
            exchange(s.server, s.client);
        }
    }

    // ---- TLS ----

    /** CA "good" signs dest (RSA key) and src (EC key), both trusting it; CA "other" signs rogue. */
    private final class Tls {
        final Path good;
        final Path other;
        final Path dest;
        final Path src;

        Tls() throws Exception {
            assumeTrue(TestPki.available(), "no openssl command to make certificates with");
            TestPki pki = new TestPki(tmp);
            good = pki.ca("good-ca");
            other = pki.ca("other-ca");
            dest = pki.host("dest", "RSA", good, good);
            src = pki.host("src", "EC", good, good);
        }

        MigrationTransport.Listener listen() {
            return MigrationTransport.listen(Endpoint.tcp("127.0.0.1", 0, dest, false));
        }

        Endpoint to(MigrationTransport.Listener l, Path tlsDir) {
            return Endpoint.parse("tcp:127.0.0.1:" + l.port() + ",tls-dir=" + tlsDir, "destination");
        }
    }

    @Test
    void mutualTlsRoundTrip() throws Exception {
        Tls tls = new Tls();
        try (MigrationTransport.Listener l = tls.listen(); Stream1 s = new Stream1(l, tls.to(l, tls.src))) {
            assertTrue(s.server.encrypted() && s.client.encrypted());
            assertTrue(s.server.peer().matches("127\\.0\\.0\\.1:\\d+ \\(TLS, CN=src\\)"), s.server.peer());
            assertEquals("127.0.0.1:" + l.port() + " (TLS, CN=dest)", s.client.peer());
            exchange(s.server, s.client);
            bothWaysAtOnce(s.server, s.client);
        }
    }

    @Test
    void aSourceSignedByAnotherCaIsRefusedOnBothSides() throws Exception {
        Tls tls = new Tls();
        Path rogue = new TestPki(tmp).host("rogue", "EC", tls.other, tls.good); // trusts dest, but not trusted
        try (MigrationTransport.Listener l = tls.listen()) {
            CompletableFuture<Connection> c = async(() -> MigrationTransport.connect(tls.to(l, rogue), WAIT));
            VmmException server = assertThrows(VmmException.class, () -> l.accept(WAIT));
            assertEquals(VmmException.Reason.CONFIG, server.reason(), server.getMessage());
            assertTrue(server.getMessage().matches("TLS handshake with 127\\.0\\.0\\.1:\\d+ failed: the peer's"
                    + " certificate is not signed by " + Pattern.quote(tls.dest.resolve("ca.pem").toString())
                    + " \\(.+\\)"), server.getMessage());
            VmmException client = failure(c);
            assertEquals(VmmException.Reason.CONFIG, client.reason(), client.getMessage());
            assertTrue(client.getMessage().startsWith("TLS handshake with 127.0.0.1:" + l.port() + " failed: the peer"
                    + " refused this side's certificate " + rogue.resolve("cert.pem")), client.getMessage());
        }
    }

    @Test
    void aDestinationSignedByAnotherCaIsRefusedOnBothSides() throws Exception {
        Tls tls = new Tls();
        Path wary = new TestPki(tmp).host("wary", "EC", tls.good, tls.other); // trusted by dest, trusts only other
        try (MigrationTransport.Listener l = tls.listen()) {
            CompletableFuture<Connection> c = async(() -> MigrationTransport.connect(tls.to(l, wary), WAIT));
            VmmException server = assertThrows(VmmException.class, () -> l.accept(WAIT));
            assertEquals(VmmException.Reason.CONFIG, server.reason(), server.getMessage());
            assertTrue(server.getMessage().contains("failed: the peer refused this side's certificate "
                    + tls.dest.resolve("cert.pem")), server.getMessage());
            VmmException client = failure(c);
            assertEquals(VmmException.Reason.CONFIG, client.reason(), client.getMessage());
            assertTrue(client.getMessage().startsWith("TLS handshake with 127.0.0.1:" + l.port() + " failed: the peer's"
                    + " certificate is not signed by " + wary.resolve("ca.pem")), client.getMessage());
        }
    }

    @Test
    void aTlsListenerDoesNotWaitForeverForASilentPeer() throws Exception {
        Tls tls = new Tls();
        try (MigrationTransport.Listener l = tls.listen();
                Socket silent = new Socket(InetAddress.getLoopbackAddress(), l.port())) {
            VmmException e = assertThrows(VmmException.class, () -> l.accept(SHORT));
            assertEquals(VmmException.Reason.TIMEOUT, e.reason(), e.getMessage());
            assertTrue(e.getMessage().matches("TLS handshake with 127\\.0\\.0\\.1:\\d+ did not complete within 500 ms"
                    + " \\(does the source use tls-dir\\?\\)"), e.getMessage());
            assertEquals(-1, silent.getInputStream().read(), "the listener closed the connection");
        }
    }

    @Test
    void clearTextAgainstTlsIsNamedOnTheTlsSide() throws Exception {
        Tls tls = new Tls();
        try (MigrationTransport.Listener l = tls.listen()) {
            CompletableFuture<Void> plain = CompletableFuture.runAsync(() -> {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), l.port())) {
                    OutputStream o = s.getOutputStream();
                    o.write("JVMM migration stream, not TLS\n".repeat(8).getBytes(StandardCharsets.US_ASCII));
                    o.flush();
                    s.getInputStream().read();
                } catch (IOException ignored) {
                    // the listener drops it
                }
            }, THREADS);
            VmmException e = assertThrows(VmmException.class, () -> l.accept(WAIT));
            assertEquals(VmmException.Reason.CONFIG, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("failed: the peer does not speak TLS (both sides need tls-dir)"),
                    e.getMessage());
            join(plain);
        }
        // a TLS source and a clear-text destination: the source waits for a ServerHello that never comes
        try (MigrationTransport.Listener l = MigrationTransport.listen(Endpoint.tcp("127.0.0.1", 0, null, false))) {
            CompletableFuture<Connection> c = async(() -> MigrationTransport.connect(tls.to(l, tls.src), SHORT));
            try (Connection server = l.accept(WAIT)) {
                assertFalse(server.encrypted());
                VmmException e = failure(c);
                assertEquals(VmmException.Reason.TIMEOUT, e.reason(), e.getMessage());
                assertTrue(e.getMessage().endsWith("did not complete within 500 ms (does the destination listen with"
                        + " tls-dir?)"), e.getMessage());
            }
        }
    }

    @Test
    void badTlsFilesAreNamedBeforeListening() throws Exception {
        Tls tls = new Tls();
        Path missing = tmp.resolve("nowhere");
        assertConfig(missing, "tls-dir " + missing + " is not a directory (it holds ca.pem, cert.pem and key.pem)");

        Path noKey = Files.createDirectories(tmp.resolve("no-key"));
        Files.copy(tls.dest.resolve("ca.pem"), noKey.resolve("ca.pem"));
        Files.copy(tls.dest.resolve("cert.pem"), noKey.resolve("cert.pem"));
        assertConfig(noKey, noKey.resolve("key.pem") + " is missing (it holds this side's private key, PEM)");

        Path pkcs1 = Files.createDirectories(tmp.resolve("pkcs1"));
        Files.copy(tls.dest.resolve("ca.pem"), pkcs1.resolve("ca.pem"));
        Files.copy(tls.dest.resolve("cert.pem"), pkcs1.resolve("cert.pem"));
        TestPki.run(pkcs1, "openssl", "pkey", "-in", tls.dest.resolve("key.pem").toString(), "-traditional", "-out",
                "key.pem");
        assertConfig(pkcs1, pkcs1.resolve("key.pem") + ": the key is in the PKCS#1 form (BEGIN RSA PRIVATE KEY);"
                + " jvmm reads PKCS#8 (BEGIN PRIVATE KEY)");

        Path mismatch = Files.createDirectories(tmp.resolve("mismatch"));
        Files.copy(tls.dest.resolve("ca.pem"), mismatch.resolve("ca.pem"));
        Files.copy(tls.dest.resolve("cert.pem"), mismatch.resolve("cert.pem"));
        Files.copy(tls.src.resolve("key.pem"), mismatch.resolve("key.pem"));
        assertConfig(mismatch, mismatch.resolve("key.pem") + " is not the key of " + mismatch.resolve("cert.pem"));

        Path noCa = Files.createDirectories(tmp.resolve("no-ca"));
        Files.writeString(noCa.resolve("ca.pem"), "not a certificate\n");
        assertConfig(noCa, noCa.resolve("ca.pem") + ": no certificate in it (expected -----BEGIN CERTIFICATE-----");
    }

    private static void assertConfig(Path tlsDir, String start) {
        for (boolean listen : new boolean[] {true, false}) {
            Endpoint e = Endpoint.tcp("127.0.0.1", listen ? 0 : 1, tlsDir, false);
            VmmException x = assertThrows(VmmException.class,
                    () -> {
                        if (listen) {
                            MigrationTransport.listen(e).close();
                        } else {
                            MigrationTransport.connect(e, SHORT).close();
                        }
                    });
            assertEquals(VmmException.Reason.CONFIG, x.reason(), x.getMessage());
            assertTrue(x.getMessage().startsWith(start), x.getMessage());
        }
    }
}

package dev.jvmm.vmm.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ApiClient} against a fake server on a unix socket that records the request and answers canned bytes, each
 * piece written (and flushed) on its own so that the client sees them split: the request it sends, the body's three
 * framings, and what it says about answers that are not HTTP and servers it cannot reach.
 */
@Timeout(20)
class ApiClientTest {
    @TempDir
    Path tmp;
    private ServerSocketChannel server;
    private int servers;
    private final AtomicReference<String> request = new AtomicReference<>();

    @AfterEach
    void stop() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    /**
     * A server that takes one request and answers {@code pieces}, then closes the connection; without pieces, it
     * holds the connection open without answering.
     */
    private Path serve(String... pieces) throws IOException {
        Path sock = tmp.resolve("api" + ++servers + ".sock");
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(sock));
        Thread t = new Thread(() -> {
            try (SocketChannel c = server.accept()) {
                request.set(readRequest(c));
                for (String p : pieces) {
                    ByteBuffer b = ByteBuffer.wrap(p.getBytes(StandardCharsets.ISO_8859_1));
                    while (b.hasRemaining()) {
                        c.write(b);
                    }
                    Thread.sleep(5);
                }
                if (pieces.length == 0) {
                    Thread.sleep(60_000);
                }
            } catch (IOException | InterruptedException e) {
                // the test closed the server, or the client went away
            }
        }, "fake-api");
        t.setDaemon(true);
        t.start();
        return sock;
    }

    /** The request's head and, by its Content-Length, its body. */
    private static String readRequest(SocketChannel c) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(1);
        while (!got.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            if (c.read(b.clear()) < 0) {
                return got.toString(StandardCharsets.UTF_8);
            }
            got.write(b.get(0));
        }
        String head = got.toString(StandardCharsets.ISO_8859_1);
        int at = head.toLowerCase().indexOf("content-length: ");
        int n = at < 0 ? 0 : Integer.parseInt(head.substring(at + 16, head.indexOf("\r\n", at)));
        ByteBuffer body = ByteBuffer.allocate(n);
        while (body.hasRemaining() && c.read(body) >= 0) {
            // reading
        }
        return head + new String(body.array(), 0, body.position(), StandardCharsets.UTF_8);
    }

    private static ApiClient.Reply call(Path sock, ApiEndpoint e, Map<String, Object> body) throws Exception {
        try (ApiClient c = ApiClient.open(sock)) {
            return c.call(e, body);
        }
    }

    private static ApiClient.Reply ping(Path sock) throws Exception {
        return call(sock, ApiEndpoint.PING, null);
    }

    private static String failure(Path sock) {
        return assertThrows(ApiClient.Unreachable.class, () -> ping(sock)).getMessage();
    }

    @Test
    void sendsOneRequestPerConnectionWithItsJsonBody() throws Exception {
        Path sock = serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        Map<String, Object> m = Map.of("path", "/images/d\u00e9j\u00e0.raw");
        assertEquals(new ApiClient.Reply(200, "{}"), call(sock, ApiEndpoint.ADD_DISK, m));
        String body = dev.jvmm.sys.json.Json.write(m);
        assertEquals("PUT /api/v1/vm.add-disk HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length
                + "\r\n\r\n" + body, request.get());
    }

    @Test
    void aRequestWithoutBodySaysSo() throws Exception {
        Path sock = serve("HTTP/1.1 204 No Content\r\n\r\n");
        assertEquals(new ApiClient.Reply(204, ""), call(sock, ApiEndpoint.PAUSE, null));
        assertEquals("PUT /api/v1/vm.pause HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                request.get());
        stop();
        Path get = serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        ping(get);
        assertEquals("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", request.get());
    }

    @Test
    void aContentLengthBodyEndsAtItsLength() throws Exception {
        // header names in any case; what follows the body is not read
        Path sock = serve("HTTP/1.1 404 Not Found\r\ncontent-TYPE: application/json\r\n", "CONTENT-LENGTH:  17 \r\n\r\n",
                "{\"error\": ", "\"gone\"}", "trailing junk");
        assertEquals(new ApiClient.Reply(404, "{\"error\": \"gone\"}"), ping(sock));
    }

    @Test
    void aChunkedBodyIsJoined() throws Exception {
        Path sock = serve("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 3\r\n\r\n",
                "5\r\n{\"a\":\r\n", "A;name=value\r\n \"abcdef\"}\r\n", "0\r\nX-Trailer: 1\r\n\r\n");
        assertEquals(new ApiClient.Reply(200, "{\"a\": \"abcdef\"}"), ping(sock));
    }

    @Test
    void aChunkedBodyDecodesUtf8AcrossChunks() throws Exception {
        byte[] e = "\u00e9".getBytes(StandardCharsets.UTF_8); // split between two chunks
        Path sock = serve("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                "2\r\n\"" + (char) (e[0] & 0xff) + "\r\n", "2\r\n" + (char) (e[1] & 0xff) + "\"\r\n0\r\n\r\n");
        assertEquals(new ApiClient.Reply(200, "\"\u00e9\""), ping(sock));
    }

    @Test
    void withoutLengthTheBodyEndsWithTheConnection() throws Exception {
        Path sock = serve("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n", "{\"version\":", " \"1\"}\n");
        assertEquals(new ApiClient.Reply(200, "{\"version\": \"1\"}\n"), ping(sock));
    }

    @Test
    void interimAnswersAreSkipped() throws Exception {
        Path sock = serve("HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        assertEquals(new ApiClient.Reply(200, "{}"), ping(sock));
    }

    @Test
    void aMalformedStatusLineIsABadAnswer() throws Exception {
        Path sock = serve("SSH-2.0-OpenSSH_9.2\r\n\r\n");
        assertEquals("bad answer from " + sock + ": the status line 'SSH-2.0-OpenSSH_9.2' is not HTTP/1.x NNN REASON",
                failure(sock));
    }

    @Test
    void otherMalformedAnswers() throws Exception {
        for (List<String> c : List.of(
                List.of("HTTP/1.1 2000 OK\r\n\r\n", "the status line 'HTTP/1.1 2000 OK' is not HTTP/1.x NNN REASON"),
                List.of("HTTP/1.1 099 Low\r\n\r\n", "status 099 in 'HTTP/1.1 099 Low'"),
                List.of("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "the header line 'no colon' is not NAME: VALUE"),
                List.of("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length '-1' is not a length"),
                List.of("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
                        "two Content-Length headers, 2 and 3"),
                List.of("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                        "Transfer-Encoding 'gzip, chunked' (only chunked is understood)"),
                List.of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                        "the chunk size line 'zz' is not a hexadecimal size"),
                List.of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}}\r\n0\r\n\r\n",
                        "a chunk of 2 bytes is not followed by CRLF"),
                List.of("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
                        "Content-Length '99999999999' is not a length"),
                List.of("HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n",
                        "the answer's body is longer than 16777216 bytes"))) {
            Path sock = serve(c.get(0));
            assertEquals("bad answer from " + sock + ": " + c.get(1), failure(sock), c.get(0));
            stop();
        }
    }

    @Test
    void anAnswerCutShortSaysWhere() throws Exception {
        for (List<String> c : List.of(
                List.of("", "without answering"),
                List.of("HTTP/1.1 200", "in the middle of the status line"),
                List.of("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n", "in the middle of the answer's headers"),
                List.of("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\"", "after 4 of the body's 10 bytes (Content-Length)"),
                List.of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n",
                        "in the middle of the chunked body, after 4 bytes"))) {
            Path sock = serve(c.get(0));
            assertEquals(sock + " closed the connection " + c.get(1), failure(sock), c.get(0));
            stop();
        }
    }

    @Test
    void aMissingSocketIsNamed() {
        Path missing = tmp.resolve("nobody.sock");
        assertEquals("cannot connect to " + missing + ": no such file", failure(missing));
    }

    @Test
    void aSocketNobodyListensOnIsRefused() throws Exception {
        Path stale = tmp.resolve("stale.sock");
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(stale));
        }
        assertEquals("cannot connect to " + stale + ": Connection refused (no jvmm listens there)", failure(stale));
    }

    @Test
    void aFileThatIsNotASocketIsRefused() throws Exception {
        Path file = java.nio.file.Files.writeString(tmp.resolve("plain"), "x");
        assertTrue(failure(file).startsWith("cannot connect to " + file + ": "), failure(file));
    }

    @Test
    void anInterruptEndsTheWait() throws Exception {
        Path sock = serve(); // takes the request, answers nothing, holds the connection while the test runs
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread caller = new Thread(() -> {
            try {
                ping(sock);
            } catch (Exception e) {
                thrown.set(e);
            }
        }, "caller");
        caller.start();
        while (request.get() == null) {
            Thread.sleep(10);
        }
        caller.interrupt();
        caller.join(10_000);
        assertTrue(thrown.get() instanceof InterruptedException, String.valueOf(thrown.get()));
    }

    @Test
    void againstTheRealServer() throws Exception {
        Path sock = tmp.resolve("vm.sock");
        FakeControl vm = new FakeControl();
        try (ApiServer s = ApiServer.start(sock, vm)) {
            ApiClient.Reply r = call(sock, ApiEndpoint.ADD_DISK, Map.of("path", "/img.raw"));
            assertEquals(200, r.status(), r.body());
            assertTrue(r.body().contains("\"bdf\""), r.body());
            assertEquals(new ApiClient.Reply(204, ""), call(sock, ApiEndpoint.PAUSE, null));
            ApiClient.Reply bad = call(sock, ApiEndpoint.REMOVE_DEVICE, Map.of());
            assertEquals(400, bad.status(), bad.body());
            assertEquals(List.of("add DISK {path=/img.raw}", "pause"), vm.calls);
        }
    }
}

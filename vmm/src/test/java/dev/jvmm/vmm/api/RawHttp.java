package dev.jvmm.vmm.api;

import dev.jvmm.sys.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One HTTP/1.1 exchange written and read by hand on a unix socket, so that the server's tests send exactly the bytes
 * they mean (bad headers, oversized or chunked bodies) without the client under test: the status, headers (names in
 * lower case) and body of the answer.
 */
record RawHttp(int status, Map<String, String> headers, String body) {
    /** {@code method path} with {@code Connection: close}, the headers given and, when not null, {@code body}. */
    static RawHttp send(Path socket, String method, String path, String body, String... headers) throws Exception {
        StringBuilder req = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (String h : headers) {
            req.append(h).append("\r\n");
        }
        byte[] b = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        if (body != null) {
            req.append("Content-Length: ").append(b.length).append("\r\n");
        }
        req.append("\r\n");
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.write(req.toString().getBytes(StandardCharsets.UTF_8));
        all.write(b);
        return raw(socket, all.toByteArray());
    }

    static RawHttp get(Path socket, String path) throws Exception {
        return send(socket, "GET", path, null);
    }

    static RawHttp put(Path socket, String path, String body) throws Exception {
        return send(socket, "PUT", path, body, body == null ? new String[0] : new String[] {"Content-Type: application/json"});
    }

    /** Writes {@code request} as it is (a write the server cut short is ignored) and reads the answer until EOF. */
    static RawHttp raw(Path socket, byte[] request) throws Exception {
        SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        try (ch) {
            CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() -> {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                ByteBuffer buf = ByteBuffer.allocate(8192);
                try {
                    while (ch.read(buf.clear()) >= 0) {
                        out.write(buf.array(), 0, buf.position());
                    }
                } catch (IOException e) {
                    // the answer so far
                }
                return out.toByteArray();
            });
            try {
                ByteBuffer w = ByteBuffer.wrap(request);
                while (w.hasRemaining()) {
                    ch.write(w);
                }
            } catch (IOException cutShort) {
                // the server answered (and closed) before taking everything: read what it said
            }
            return parse(new String(read.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8));
        }
    }

    private static RawHttp parse(String text) {
        int end = text.indexOf("\r\n\r\n");
        if (!text.startsWith("HTTP/1.1 ") || end < 0) {
            throw new AssertionError("not an HTTP answer: " + text);
        }
        String[] lines = text.substring(0, end).split("\r\n");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int c = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, c).trim().toLowerCase(Locale.ROOT), lines[i].substring(c + 1).trim());
        }
        return new RawHttp(Integer.parseInt(lines[0].substring(9, 12)), headers, text.substring(end + 4));
    }

    /** The body as a JSON object. */
    @SuppressWarnings("unchecked")
    Map<String, Object> json() {
        try {
            return (Map<String, Object>) Json.parse(body);
        } catch (Json.ParseException e) {
            throw new AssertionError("not JSON (" + e.getMessage() + "): " + body);
        }
    }

    /** The error answer's message. */
    String error() {
        return (String) json().get("error");
    }

    /** The error answer's field. */
    Object field() {
        return json().get("field");
    }
}

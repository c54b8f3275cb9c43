package dev.jvmm.vmm.api;

import dev.jvmm.sys.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A client of the control API ({@code jvmm remote}; docs/api.md): sends one request to an {@link ApiServer}'s unix
 * socket and returns the status and body. One request per connection ({@code Connection: close}), on the calling
 * thread, with no read timeout ({@code shutdown} and {@code remove-device} legitimately wait for the guest, up to
 * their {@code timeout_s}); an interrupt of the waiting thread ends the wait.
 *
 * <p>Hand-written HTTP/1.1 rather than Jetty's client (which kept client and server on one HTTP library) for
 * start-up time, which is nearly all a {@code jvmm remote} call costs: scripts and lab tests drive a VM with dozens of calls,
 * and one took 20 to 38 s inside the lab's emulated host. Measured on the 2-core build host ({@code ./jvmm remote
 * --api-socket S ping} against a {@code FakeApiServerMain}, 5 runs each, interleaved; wall time, with the CPU time
 * in brackets as another session's emulated VM shared the cores at times):
 * <ul>
 * <li>before, Jetty's client under {@code Jvmm}: 1.19 to 1.30 s on the idle host, 1.7 to 2.4 s (1.6 to 2.6 CPU-s)
 *     on the shared one; 3,417 classes loaded, 494 of them Jetty's;
 * <li>the same entry and JVM flags (C1 only, serial GC), Jetty's client against this one: 1.15 to 1.81 s against
 *     0.48 to 0.72 s (1.04 to 1.66 against 0.43 to 0.64 CPU-s);
 * <li>after, this client under {@code RemoteCommand.main} with the launch's JVM flags: 0.37 to 0.42 s idle, 0.35
 *     to 0.61 s shared (0.30 to 0.50 CPU-s); 1,309 classes (172 of them picocli's). A JVM that prints "hi" takes
 *     0.10 to 0.13 s;
 * <li>and with {@code RemoteCommand}'s quick path, which does not build picocli's model: 0.23 to 0.27 s against
 *     0.35 to 0.38 s without it and 1.83 to 2.46 s before (0.21 against 0.32 and 1.8 CPU-s), 864 classes.
 * </ul>
 * It speaks only what the API needs: a request line, {@code Host: localhost}, {@code Connection: close}, a JSON body
 * with its {@code Content-Length} (a PUT without one says {@code Content-Length: 0}); in the answer a status line,
 * headers (names case-insensitive, obs-fold joined), 1xx interim answers skipped, and a body delimited by
 * {@code Content-Length}, {@code Transfer-Encoding: chunked} (trailers dropped) or the end of the connection. The
 * JDK's {@code java.net.http} client cannot use a unix socket.
 */
public final class ApiClient implements AutoCloseable {
    /** The longest answer read (vm.info of a VM with many devices is a few KiB). */
    static final int MAX_ANSWER = 16 << 20;
    /** The longest status line, header line or chunk-size line taken. */
    static final int MAX_LINE = 16 << 10;
    /** The most header bytes taken (all lines of one answer's head). */
    static final int MAX_HEAD = 64 << 10;

    /** An answer: the HTTP status and the body (empty for 204). */
    public record Reply(int status, String body) {
        public boolean ok() {
            return status / 100 == 2;
        }
    }

    /**
     * No answer came: the server could not be reached ({@code cannot connect to PATH: ...}), the connection broke
     * before the whole answer, or what came back is not an HTTP answer. The message names the socket and the reason.
     */
    public static final class Unreachable extends IOException {
        private static final long serialVersionUID = 1L;

        Unreachable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final Path socket;

    private ApiClient(Path socket) {
        this.socket = socket;
    }

    /** A client of the server at {@code socket}; nothing is connected before {@link #call}. */
    public static ApiClient open(Path socket) {
        return new ApiClient(socket);
    }

    /**
     * Sends {@code e}'s request with {@code body} as its JSON body (none when null) and waits for the answer.
     *
     * @throws Unreachable the socket is missing or nobody listens there, the connection broke before the answer, or
     *     the answer is not HTTP/1.x
     * @throws InterruptedException the thread was interrupted while it waited (the connection is closed)
     */
    public Reply call(ApiEndpoint e, Map<String, Object> body) throws Unreachable, InterruptedException {
        byte[] request = request(e, body == null ? null : Json.write(body));
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        if (!Files.exists(socket)) {
            throw new Unreachable("cannot connect to " + socket + ": no such file", null);
        }
        SocketChannel ch;
        try {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        } catch (IOException x) {
            throw new Unreachable("cannot connect to " + socket + ": " + reason(x), x);
        }
        try {
            return exchange(ch, request);
        } finally {
            try {
                ch.close();
            } catch (IOException ignored) {
                // the answer, or the failure, is what counts
            }
        }
    }

    private Reply exchange(SocketChannel ch, byte[] request) throws Unreachable, InterruptedException {
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
        } catch (ClosedByInterruptException x) {
            throw interrupted(x);
        } catch (IOException x) {
            throw new Unreachable("cannot connect to " + socket + ": " + connectReason(x), x);
        }
        IOException writeFailed = null;
        try {
            ByteBuffer w = ByteBuffer.wrap(request);
            while (w.hasRemaining()) {
                ch.write(w);
            }
        } catch (ClosedByInterruptException x) {
            throw interrupted(x);
        } catch (IOException x) {
            // the server may have answered (and closed) before taking it all: what it said is the better news
            writeFailed = x;
        }
        try {
            return new Reader(ch).reply();
        } catch (ClosedByInterruptException x) {
            throw interrupted(x);
        } catch (Malformed x) {
            throw new Unreachable("bad answer from " + socket + ": " + x.getMessage(), x);
        } catch (EOFException x) {
            if (writeFailed != null) {
                throw broke("sending the request", writeFailed);
            }
            throw new Unreachable(socket + " closed the connection " + x.getMessage(), x);
        } catch (IOException x) {
            throw writeFailed != null ? broke("sending the request", writeFailed) : broke("reading the answer", x);
        }
    }

    private Unreachable broke(String doing, IOException x) {
        return new Unreachable("the connection to " + socket + " broke " + doing + ": " + reason(x), x);
    }

    private static InterruptedException interrupted(ClosedByInterruptException x) {
        Thread.interrupted(); // thrown instead: the status is cleared, as an InterruptedException's thrower does
        InterruptedException i = new InterruptedException("interrupted while waiting for the control API");
        i.initCause(x);
        return i;
    }

    /** The request's bytes: {@code METHOD PATH HTTP/1.1}, its headers and the JSON body (null: none). */
    static byte[] request(ApiEndpoint e, String json) {
        byte[] b = json == null ? null : json.getBytes(StandardCharsets.UTF_8);
        StringBuilder head = new StringBuilder(160).append(e.method()).append(' ').append(e.path())
                .append(" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if (b != null) {
            head.append("Content-Type: application/json\r\nContent-Length: ").append(b.length).append("\r\n");
        } else if (!e.method().equals("GET")) {
            head.append("Content-Length: 0\r\n"); // a PUT says it has no body (RFC 9110 8.6)
        }
        byte[] h = head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
        if (b == null) {
            return h;
        }
        byte[] all = new byte[h.length + b.length];
        System.arraycopy(h, 0, all, 0, h.length);
        System.arraycopy(b, 0, all, h.length, b.length);
        return all;
    }

    private static String connectReason(IOException x) {
        String m = reason(x);
        return x instanceof ConnectException ? m + " (no jvmm listens there)" : m;
    }

    private static String reason(IOException x) {
        String m = x.getMessage();
        return m == null || m.isBlank() ? x.getClass().getSimpleName() : m;
    }

    @Override
    public void close() {
        // each call opens and closes its own connection
    }

    /** What came back is not HTTP/1.x; the message says what is wrong. */
    static final class Malformed extends IOException {
        private static final long serialVersionUID = 1L;

        Malformed(String message) {
            super(message);
        }
    }

    /** Reads one answer from a blocking channel, through a buffer of its own. */
    private static final class Reader {
        private final SocketChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocate(8192).flip();
        private boolean eof;

        Reader(SocketChannel ch) {
            this.ch = ch;
        }

        Reply reply() throws IOException {
            int status;
            Map<String, String> headers;
            do {
                String line = line(MAX_LINE, "the status line");
                if (line == null) {
                    throw new EOFException("without answering");
                }
                status = status(line);
                headers = headers();
            } while (status / 100 == 1 && status != 101); // interim answers (100 Continue) come before the answer
            if (status == 101) {
                throw new Malformed("status 101 (switching protocols) was not asked for");
            }
            if (status == 204 || status == 304) {
                return new Reply(status, "");
            }
            byte[] body;
            String te = headers.get("transfer-encoding");
            String cl = headers.get("content-length");
            if (te != null) {
                if (!te.trim().equalsIgnoreCase("chunked")) {
                    throw new Malformed("Transfer-Encoding '" + te + "' (only chunked is understood)");
                }
                body = chunked();
            } else if (cl != null) {
                body = exactly(contentLength(cl));
            } else {
                body = untilClose();
            }
            return new Reply(status, new String(body, StandardCharsets.UTF_8));
        }

        /** {@code HTTP/1.x NNN[ reason]}: the status. */
        private static int status(String line) throws Malformed {
            boolean ok = line.length() >= 12 && line.startsWith("HTTP/1.") && digit(line.charAt(7))
                    && line.charAt(8) == ' ' && digit(line.charAt(9)) && digit(line.charAt(10))
                    && digit(line.charAt(11)) && (line.length() == 12 || line.charAt(12) == ' ');
            if (!ok) {
                throw new Malformed("the status line '" + shown(line) + "' is not HTTP/1.x NNN REASON");
            }
            int s = (line.charAt(9) - '0') * 100 + (line.charAt(10) - '0') * 10 + (line.charAt(11) - '0');
            if (s < 100) {
                throw new Malformed("status " + line.substring(9, 12) + " in '" + shown(line) + "'");
            }
            return s;
        }

        /** The header fields up to the empty line: names in lower case, repeated fields joined by commas. */
        private Map<String, String> headers() throws IOException {
            Map<String, String> h = new HashMap<>();
            int total = 0;
            String last = null;
            for (;;) {
                String line = line(MAX_LINE, "a header line");
                if (line == null) {
                    throw new EOFException("in the middle of the answer's headers");
                }
                if (line.isEmpty()) {
                    return h;
                }
                total += line.length() + 2;
                if (total > MAX_HEAD) {
                    throw new Malformed("the headers are longer than " + MAX_HEAD + " bytes");
                }
                char c0 = line.charAt(0);
                if (c0 == ' ' || c0 == '\t') { // obs-fold: a continuation of the field before (RFC 9112 5.2)
                    if (last == null) {
                        throw new Malformed("the first header line '" + shown(line) + "' is a continuation");
                    }
                    h.put(last, h.get(last) + " " + line.trim());
                    continue;
                }
                int colon = line.indexOf(':');
                String name = colon > 0 ? line.substring(0, colon) : "";
                if (name.isEmpty() || !token(name)) {
                    throw new Malformed("the header line '" + shown(line) + "' is not NAME: VALUE");
                }
                last = name.toLowerCase(Locale.ROOT);
                String value = line.substring(colon + 1).trim();
                String before = h.get(last);
                if (before == null) {
                    h.put(last, value);
                } else if (last.equals("content-length")) {
                    if (!before.equals(value)) {
                        throw new Malformed("two Content-Length headers, " + before + " and " + value);
                    }
                } else {
                    h.put(last, before + ", " + value);
                }
            }
        }

        private static boolean token(String s) {
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c <= ' ' || c >= 127 || "\"(),/:;<=>?@[\\]{}".indexOf(c) >= 0) {
                    return false;
                }
            }
            return true;
        }

        private static int contentLength(String v) throws Malformed {
            if (v.isEmpty() || v.length() > 10) {
                throw new Malformed("Content-Length '" + shown(v) + "' is not a length");
            }
            long n = 0;
            for (int i = 0; i < v.length(); i++) {
                if (!digit(v.charAt(i))) {
                    throw new Malformed("Content-Length '" + shown(v) + "' is not a length");
                }
                n = n * 10 + (v.charAt(i) - '0');
            }
            if (n > MAX_ANSWER) {
                throw tooLong();
            }
            return (int) n;
        }

        private byte[] exactly(int n) throws IOException {
            byte[] b = new byte[n];
            int got = 0;
            while (got < n) {
                if (!fill()) {
                    throw new EOFException("after " + got + " of the body's " + n + " bytes (Content-Length)");
                }
                int k = Math.min(n - got, buf.remaining());
                buf.get(b, got, k);
                got += k;
            }
            return b;
        }

        private byte[] untilClose() throws IOException {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            while (fill()) {
                if (out.size() + buf.remaining() > MAX_ANSWER) {
                    throw tooLong();
                }
                out.write(buf.array(), buf.position(), buf.remaining());
                buf.position(buf.limit());
            }
            return out.toByteArray();
        }

        /** A chunked body (RFC 9112 7.1): {@code SIZE[;ext] CRLF DATA CRLF} until size 0, then trailers (dropped). */
        private byte[] chunked() throws IOException {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (;;) {
                String line = line(MAX_LINE, "a chunk size line");
                if (line == null) {
                    throw new EOFException("in the middle of the chunked body, after " + out.size() + " bytes");
                }
                int semi = line.indexOf(';');
                String hex = (semi >= 0 ? line.substring(0, semi) : line).trim();
                long size = 0;
                boolean ok = !hex.isEmpty() && hex.length() <= 8;
                for (int i = 0; ok && i < hex.length(); i++) {
                    int d = Character.digit(hex.charAt(i), 16);
                    ok = d >= 0;
                    size = size * 16 + d;
                }
                if (!ok) {
                    throw new Malformed("the chunk size line '" + shown(line) + "' is not a hexadecimal size");
                }
                if (size == 0) {
                    break;
                }
                if (out.size() + size > MAX_ANSWER) {
                    throw tooLong();
                }
                out.write(exactly((int) size));
                crlf(size);
            }
            int total = 0;
            for (;;) { // the trailer section, up to its empty line
                String t = line(MAX_LINE, "a trailer line");
                if (t == null) {
                    throw new EOFException("in the middle of the chunked body's trailers");
                }
                if (t.isEmpty()) {
                    return out.toByteArray();
                }
                total += t.length();
                if (total > MAX_HEAD) {
                    throw new Malformed("the trailers are longer than " + MAX_HEAD + " bytes");
                }
            }
        }

        /** The CRLF (or bare LF) after a chunk's data. */
        private void crlf(long size) throws IOException {
            for (int i = 0; i < 2; i++) {
                if (!fill()) {
                    throw new EOFException("in the middle of the chunked body, after a chunk of " + size + " bytes");
                }
                byte b = buf.get();
                if (b == '\n') {
                    return;
                }
                if (b != '\r' || i == 1) {
                    throw new Malformed("a chunk of " + size + " bytes is not followed by CRLF");
                }
            }
        }

        /**
         * The next line without its CRLF (a bare LF ends one too, RFC 9112 2.2), as ISO-8859-1; null at the end of
         * the stream before any byte of it.
         */
        private String line(int max, String what) throws IOException {
            StringBuilder sb = new StringBuilder();
            for (;;) {
                if (!fill()) {
                    if (sb.length() == 0) {
                        return null;
                    }
                    throw new EOFException("in the middle of " + what);
                }
                byte b = buf.get();
                if (b == '\n') {
                    int n = sb.length();
                    if (n > 0 && sb.charAt(n - 1) == '\r') {
                        sb.setLength(n - 1);
                    }
                    return sb.toString();
                }
                if (sb.length() > max) {
                    throw new Malformed(what + " is longer than " + max + " bytes: '" + shown(sb.toString()) + "'");
                }
                sb.append((char) (b & 0xff));
            }
        }

        /** Whether a byte is in the buffer, reading when it is empty; false at the end of the stream. */
        private boolean fill() throws IOException {
            if (buf.hasRemaining()) {
                return true;
            }
            if (eof) {
                return false;
            }
            buf.clear();
            int n;
            do {
                n = ch.read(buf);
            } while (n == 0);
            buf.flip();
            eof = n < 0;
            return !eof;
        }

        private static boolean digit(char c) {
            return c >= '0' && c <= '9';
        }

        private static Malformed tooLong() {
            return new Malformed("the answer's body is longer than " + MAX_ANSWER + " bytes");
        }

        /** {@code s} for a message: at most 80 characters, control characters as {@code ?}. */
        private static String shown(String s) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < s.length() && i < 80; i++) {
                char c = s.charAt(i);
                sb.append(c < ' ' || c == 127 ? '?' : c);
            }
            return s.length() > 80 ? sb + "..." : sb.toString();
        }
    }
}

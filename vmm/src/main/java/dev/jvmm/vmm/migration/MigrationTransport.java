package dev.jvmm.vmm.migration;

import dev.jvmm.sys.FileErrors;
import dev.jvmm.vmm.VmmException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.Principal;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transport of live migration: the destination ({@code jvmm launch --incoming SPEC}) {@link #accept accepts} one
 * connection, the source ({@code send-migration destination=SPEC}) {@link #connect connects} to it; both then have a
 * {@link Connection}. SPEC is an {@link Endpoint}.
 *
 * <p><b>One connection.</b> The listener accepts exactly one connection and is closed at once (a unix socket's file
 * removed), so nobody else can connect once the source has: a second attempt is refused. Its backlog is 1; a
 * connection that slipped into the backlog meanwhile is reset. Whoever connects first is the source, which is why
 * clear text is refused on an address that is not loopback.
 *
 * <p><b>Clear text.</b> The stream carries the guest's memory and state in clear text, and the destination runs
 * whatever state it receives. Without {@code tls-dir}, {@code tcp:} listens only on a loopback address unless
 * {@code insecure=on} is given (a trusted, private network). A unix socket is made 0600 (bound in a private 0700
 * directory, then linked into place), so that only its owner (and root) can connect.
 *
 * <p><b>TLS.</b> With {@code tls-dir=DIR} (tcp only, on both sides) the stream is mutual TLS, TLSv1.3 alone, with the
 * JDK's own implementation. DIR holds three PEM files:
 * <ul>
 * <li>{@code ca.pem}: the certificate(s) of the CA that signs the peers' certificates; a peer is accepted only with a
 * certificate chaining to it;
 * <li>{@code cert.pem}: this side's certificate, followed by any intermediate certificates;
 * <li>{@code key.pem}: this side's private key, unencrypted PKCS#8 ({@code BEGIN PRIVATE KEY}), RSA, EC or EdDSA;
 * keep it 0600.
 * </ul>
 * Both sides present their certificate and require the peer's. The host name is not checked against the certificate:
 * the CA is meant to be private to the migration (it signs the hosts that may migrate to each other), so a
 * certificate it signed is the credential. A certificate used on both sides of migrations should allow both TLS
 * server and client use (extendedKeyUsage serverAuth, clientAuth, or none). The handshake is done in
 * {@code accept} and {@code connect}, within the timeout, so that a peer with a wrong certificate is an error there,
 * on both sides: once its handshake is done, the accepting side sends one byte that the connecting side reads before
 * {@code connect} returns (in TLSv1.3 the client's handshake ends before the server has checked the client's
 * certificate).
 *
 * <p><b>Buffers.</b> TCP_NODELAY is set; TCP socket buffers are left to the kernel's auto-tuning, which grows them
 * to {@code net.ipv4.tcp_rmem}/{@code tcp_wmem}'s maximum (MiBs): setting SO_RCVBUF/SO_SNDBUF would turn it off and
 * cap them at {@code net.core.rmem_max}/{@code wmem_max} (often 208 KiB). Unix sockets, which have no auto-tuning,
 * ask for {@link #UNIX_SOCKET_BUFFER} (the kernel caps it at {@code wmem_max}).
 */
public final class MigrationTransport {
    private static final Logger LOG = LoggerFactory.getLogger(MigrationTransport.class);
    /** The socket buffer asked for on unix sockets. */
    public static final int UNIX_SOCKET_BUFFER = 4 << 20;
    /** What the accepting side sends once the TLS handshake is done (see the class comment). */
    static final int TLS_READY = 0x4a; // 'J'

    private MigrationTransport() {
    }

    /**
     * Listens on {@code e} (a refusal, such as clear text on a public address, or bad TLS files, comes here), accepts
     * one connection within {@code timeout}, closes the listener and, with TLS, does the handshake within
     * {@code timeout} again. CONFIG for a refused endpoint or certificates that do not match, TIMEOUT when no source
     * connected or the handshake did not finish in time, HOST for socket errors.
     */
    public static Connection accept(Endpoint e, Duration timeout) {
        try (Listener l = listen(e)) {
            return l.accept(timeout);
        }
    }

    /**
     * Starts listening on {@code e} without waiting: for a caller that reports where it listens (the actual port
     * when {@code e}'s is 0) before it {@link Listener#accept accepts}. Errors as {@link #accept}.
     */
    public static Listener listen(Endpoint e) {
        Objects.requireNonNull(e, "e");
        return e.kind() == Endpoint.Kind.UNIX ? Listener.unix(e) : Listener.tcp(e);
    }

    /**
     * Connects to {@code e} within {@code timeout} (a unix socket connects at once or fails) and, with TLS, does the
     * handshake (and reads the listener's confirmation) within {@code timeout} again. CONFIG for an endpoint that
     * cannot be used here (insecure=on, an unknown host, bad TLS files) or certificates that do not match, TIMEOUT,
     * HOST for a refused connection and socket errors.
     */
    public static Connection connect(Endpoint e, Duration timeout) {
        Objects.requireNonNull(e, "e");
        long ms = millis(timeout);
        String where = "migration to " + e.address();
        if (e.kind() == Endpoint.Kind.UNIX) {
            SocketChannel ch = null;
            try {
                ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                unixBuffers(ch);
                ch.connect(UnixDomainSocketAddress.of(e.path()));
                return Connection.of(ch, e.address());
            } catch (IOException x) {
                closeQuietly(ch);
                throw new VmmException(VmmException.Reason.HOST, where + ": cannot connect: " + describe(x)
                        + (x instanceof ConnectException || x.getMessage() != null
                                && x.getMessage().contains("No such file") ? " (is the destination listening?)" : ""),
                        x);
            }
        }
        if (e.insecure()) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": insecure=on is an option of the receiving"
                    + " side (--incoming) only");
        }
        SSLContext tls = e.tlsDir() == null ? null : TlsFiles.context(e.tlsDir());
        InetAddress addr = resolve(e, where);
        SocketChannel ch = null;
        Socket s;
        try {
            ch = SocketChannel.open(); // blocking; its socket's connect takes a timeout
            s = ch.socket();
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(addr, e.port()), (int) Math.min(ms, Integer.MAX_VALUE));
        } catch (SocketTimeoutException x) {
            closeQuietly(ch);
            throw new VmmException(VmmException.Reason.TIMEOUT, where + ": no answer within " + human(timeout), x);
        } catch (ConnectException x) {
            closeQuietly(ch);
            throw new VmmException(VmmException.Reason.HOST, where + ": connection refused by "
                    + Endpoint.hostPort(addr.getHostAddress(), e.port()) + " (is the destination listening? it"
                    + " accepts one connection only)", x);
        } catch (IOException x) {
            closeQuietly(ch);
            throw new VmmException(VmmException.Reason.HOST, where + ": cannot connect: " + describe(x), x);
        }
        String peer = peerOf(s);
        if (tls == null) {
            return Connection.of(ch, peer);
        }
        return handshake(s, tls, false, peer, e, timeout);
    }

    /**
     * A listening socket that accepts one connection. {@link #close()} (from any thread) stops a waiting
     * {@link #accept}; it removes a unix socket's file.
     */
    public static final class Listener implements AutoCloseable {
        private final Endpoint endpoint;
        private final ServerSocketChannel tcp;
        private final SSLContext tls;
        private final ServerSocketChannel unix;
        private final Selector selector;
        private final Path file;
        private final Object fileKey;
        private final AtomicInteger state = new AtomicInteger(); // 0 listening, 1 accepting or accepted, 2 closed

        private Listener(Endpoint endpoint, ServerSocketChannel tcp, SSLContext tls, ServerSocketChannel unix,
                Selector selector, Path file, Object fileKey) {
            this.endpoint = endpoint;
            this.tcp = tcp;
            this.tls = tls;
            this.unix = unix;
            this.selector = selector;
            this.file = file;
            this.fileKey = fileKey;
        }

        private static Listener tcp(Endpoint e) {
            String where = "incoming migration on " + e.address();
            InetAddress addr = resolve(e, where);
            if (e.tlsDir() == null && !e.insecure() && !addr.isLoopbackAddress()) {
                throw new VmmException(VmmException.Reason.CONFIG, where + ": refusing to listen without TLS on "
                        + addr.getHostAddress() + ", which is not a loopback address: the migration stream carries"
                        + " the guest's memory and state in clear text, and whoever connects first would supply them."
                        + " Use tls-dir=DIR (mutual TLS), or insecure=on on a trusted network");
            }
            SSLContext tls = e.tlsDir() == null ? null : TlsFiles.context(e.tlsDir());
            ServerSocketChannel ss = null;
            try {
                ss = ServerSocketChannel.open(); // blocking; its socket's accept takes a timeout
                ss.socket().setReuseAddress(true);
                ss.bind(new InetSocketAddress(addr, e.port()), 1);
            } catch (IOException x) {
                closeQuietly(ss);
                throw new VmmException(VmmException.Reason.HOST, where + ": cannot listen on "
                        + Endpoint.hostPort(addr.getHostAddress(), e.port()) + ": " + describe(x), x);
            }
            LOG.info("migration: listening on {}{}", Endpoint.hostPort(addr.getHostAddress(), ss.socket().getLocalPort()),
                    tls != null ? " (mutual TLS)" : e.insecure() ? " (clear text, insecure=on)" : " (clear text)");
            return new Listener(e, ss, tls, null, null, null, null);
        }

        private static Listener unix(Endpoint e) {
            String where = "incoming migration on " + e.address();
            Path p = e.path().toAbsolutePath().normalize();
            Path parent = p.getParent();
            if (parent == null || p.getFileName() == null || !Files.isDirectory(parent)) {
                throw new VmmException(VmmException.Reason.CONFIG, where + ": the directory " + parent
                        + " does not exist");
            }
            replaceIfStale(p, where);
            Path dir = privateDir(parent, where);
            Path bound = dir.resolve("s");
            ServerSocketChannel ssc = null;
            Selector sel = null;
            try {
                ssc = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                ssc.bind(UnixDomainSocketAddress.of(bound), 1);
                Files.setPosixFilePermissions(bound, PosixFilePermissions.fromString("rw-------"));
                Object key = Files.readAttributes(bound, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                        .fileKey();
                boolean linked;
                try {
                    Files.createLink(p, bound); // fails rather than replace what appeared meanwhile
                    linked = true;
                } catch (FileAlreadyExistsException x) {
                    throw new VmmException(VmmException.Reason.CONFIG, where + ": " + p + " appeared meanwhile"
                            + " (another jvmm?)", x);
                } catch (UnsupportedOperationException | IOException noLink) {
                    // a file system without hard links: rename(2) is atomic too, but replaces what appeared meanwhile
                    Files.move(bound, p, StandardCopyOption.ATOMIC_MOVE);
                    linked = false;
                }
                if (linked) {
                    Files.delete(bound);
                }
                Files.delete(dir);
                ssc.configureBlocking(false);
                sel = Selector.open();
                ssc.register(sel, SelectionKey.OP_ACCEPT);
                LOG.info("migration: listening on unix:{}", p);
                return new Listener(e, null, null, ssc, sel, p, key);
            } catch (IOException | RuntimeException x) {
                closeQuietly(sel);
                closeQuietly(ssc);
                try {
                    Files.deleteIfExists(bound);
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // best effort
                }
                if (x instanceof VmmException v) {
                    throw v;
                }
                throw new VmmException(VmmException.Reason.HOST, where + ": cannot listen: " + describe(x), x);
            }
        }

        /** The endpoint listened on: {@code unix:PATH}, or {@code tcp:ADDRESS:PORT} with the actual port. */
        public String address() {
            return tcp != null ? "tcp:" + Endpoint.hostPort(tcp.socket().getInetAddress().getHostAddress(),
                    tcp.socket().getLocalPort())
                    : endpoint.address();
        }

        /** The TCP port listened on (the one the kernel chose when the endpoint's is 0); 0 for a unix socket. */
        public int port() {
            return tcp != null ? tcp.socket().getLocalPort() : 0;
        }

        /**
         * Waits up to {@code timeout} for one connection, closes the listener and, with TLS, does the handshake within
         * {@code timeout} again. Once only. Errors as {@link MigrationTransport#accept}.
         */
        public Connection accept(Duration timeout) {
            long ms = millis(timeout);
            String where = "incoming migration on " + address();
            if (!state.compareAndSet(0, 1)) {
                throw new IllegalStateException(this + " has accepted a connection already or is closed");
            }
            try {
                if (unix != null) {
                    SocketChannel ch = acceptUnix(ms, where, timeout);
                    close();
                    String peer = endpoint.address() + peerUser(ch);
                    LOG.info("migration: accepted a connection on {}; no other will be", peer);
                    return Connection.of(ch, peer);
                }
                Socket s;
                try {
                    tcp.socket().setSoTimeout((int) Math.min(ms, Integer.MAX_VALUE));
                    s = tcp.socket().accept(); // a channel's socket: s.getChannel() is set
                } catch (SocketTimeoutException x) {
                    throw new VmmException(VmmException.Reason.TIMEOUT, where + ": no source connected within "
                            + human(timeout), x);
                } catch (IOException x) {
                    throw new VmmException(VmmException.Reason.HOST, where + ": accepting failed: " + describe(x), x);
                }
                close();
                String peer = peerOf(s);
                LOG.info("migration: accepted a connection from {} on {}; no other will be", peer, address());
                try {
                    s.setTcpNoDelay(true);
                } catch (IOException x) {
                    closeQuietly(s);
                    throw new VmmException(VmmException.Reason.HOST, where + ": " + describe(x), x);
                }
                return tls == null ? Connection.of(s.getChannel(), peer)
                        : handshake(s, tls, true, peer, endpoint, timeout);
            } finally {
                close();
            }
        }

        private SocketChannel acceptUnix(long ms, String where, Duration timeout) {
            long deadline = System.nanoTime() + ms * 1_000_000L;
            try {
                while (true) {
                    long left = (deadline - System.nanoTime()) / 1_000_000L;
                    if (left <= 0) {
                        throw new VmmException(VmmException.Reason.TIMEOUT, where + ": no source connected within "
                                + human(timeout));
                    }
                    selector.select(left);
                    if (state.get() == 2) {
                        throw new VmmException(VmmException.Reason.HOST, where + ": the listener was closed");
                    }
                    SocketChannel ch = unix.accept();
                    if (ch != null) {
                        ch.configureBlocking(true);
                        unixBuffers(ch);
                        return ch;
                    }
                }
            } catch (ClosedSelectorException | ClosedChannelException x) {
                throw new VmmException(VmmException.Reason.HOST, where + ": the listener was closed", x);
            } catch (IOException x) {
                throw new VmmException(VmmException.Reason.HOST, where + ": accepting failed: " + describe(x), x);
            }
        }

        /** Stops listening and removes a unix socket's file (if it is still this listener's); never throws. */
        @Override
        public void close() {
            if (state.getAndSet(2) == 2) {
                return;
            }
            if (selector != null) {
                selector.wakeup();
            }
            closeQuietly(tcp);
            closeQuietly(unix);
            closeQuietly(selector);
            if (file != null) {
                try {
                    if (Objects.equals(fileKey, Files.readAttributes(file, BasicFileAttributes.class,
                            LinkOption.NOFOLLOW_LINKS).fileKey())) {
                        Files.delete(file);
                    }
                } catch (NoSuchFileException gone) {
                    // removed by someone else
                } catch (IOException x) {
                    LOG.warn("migration: cannot remove the socket {}: {}", file, FileErrors.describe(x));
                }
            }
        }

        @Override
        public String toString() {
            return "migration listener on " + address();
        }
    }

    /**
     * Does the TLS handshake on {@code raw} within {@code timeout} (a watchdog closes the socket at the deadline, so a
     * peer that never speaks, or trickles, cannot hold it), then the one-byte confirmation: the server sends it, the
     * client reads it.
     */
    private static Connection handshake(Socket raw, SSLContext ctx, boolean server, String peer, Endpoint e,
            Duration timeout) {
        AtomicInteger phase = new AtomicInteger(); // 0 running, 1 done, 2 timed out
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(millis(timeout));
            } catch (InterruptedException done) {
                return;
            }
            if (phase.compareAndSet(0, 2)) {
                closeQuietly(raw);
            }
        }, "migration-tls-deadline");
        watchdog.setDaemon(true);
        SSLSocket s = null;
        try {
            s = (SSLSocket) ctx.getSocketFactory().createSocket(raw,
                    server ? raw.getInetAddress().getHostAddress() : e.host(), raw.getPort(), false);
            s.setUseClientMode(!server);
            SSLParameters p = s.getSSLParameters();
            p.setProtocols(new String[] {TlsFiles.PROTOCOL});
            p.setNeedClientAuth(server);
            p.setEndpointIdentificationAlgorithm(null); // no host name check: see the class comment
            s.setSSLParameters(p);
            watchdog.start();
            s.startHandshake();
            if (server) {
                OutputStream o = s.getOutputStream();
                o.write(TLS_READY);
                o.flush();
            } else {
                InputStream i = s.getInputStream();
                int b = i.read();
                if (b != TLS_READY) {
                    throw new java.io.EOFException(b < 0 ? "the peer closed the connection after the handshake"
                            : "the peer is not a jvmm migration listener (it sent " + b + ")");
                }
            }
            if (!phase.compareAndSet(0, 1)) {
                throw new SocketTimeoutException("closed at the deadline");
            }
            watchdog.interrupt();
            String subject = subject(s);
            LOG.info("migration: TLS with {} ({}, peer certificate {})", peer, s.getSession().getCipherSuite(),
                    subject);
            return new Connection(s.getInputStream(), s.getOutputStream(), peer + " (TLS, " + subject + ")", true,
                    raw, s);
        } catch (IOException x) {
            watchdog.interrupt();
            boolean timedOut = !phase.compareAndSet(0, 1) && phase.get() == 2;
            closeQuietly(s);
            closeInOrder(raw);
            if (timedOut) {
                throw new VmmException(VmmException.Reason.TIMEOUT, "TLS handshake with " + peer
                        + " did not complete within " + human(timeout) + (server ? " (does the source use tls-dir?)"
                                : " (does the destination listen with tls-dir?)"), x);
            }
            throw TlsFiles.handshakeFailure(peer, e.tlsDir(), x);
        } catch (RuntimeException x) {
            watchdog.interrupt();
            closeQuietly(raw);
            closeQuietly(s);
            throw x;
        }
    }

    /**
     * Closes a connection whose handshake failed so that the peer reads the TLS alert sent on it: our FIN, then
     * what the peer still sends read and dropped until it closes (1 s at most). Closing at once, with the rest of
     * the peer's flight unread, would send a reset, and the peer would see "connection reset" or "broken pipe".
     */
    private static void closeInOrder(Socket raw) {
        try {
            if (!raw.isClosed()) {
                raw.shutdownOutput();
                long deadline = System.nanoTime() + 1_000_000_000L;
                InputStream in = raw.getInputStream();
                byte[] sink = new byte[16384];
                for (long left; (left = (deadline - System.nanoTime()) / 1_000_000L) > 0; ) {
                    raw.setSoTimeout((int) left);
                    if (in.read(sink) < 0) {
                        break;
                    }
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // the peer is gone or slow: close anyway
        }
        closeQuietly(raw);
    }

    private static String subject(SSLSocket s) {
        try {
            Certificate c = s.getSession().getPeerCertificates()[0];
            if (c instanceof X509Certificate x) {
                return x.getSubjectX500Principal().getName();
            }
            return c.getType();
        } catch (SSLPeerUnverifiedException x) {
            return "none";
        }
    }

    private static InetAddress resolve(Endpoint e, String where) {
        try {
            return InetAddress.getByName(e.host());
        } catch (UnknownHostException x) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": unknown host '" + e.host() + "'", x);
        }
    }

    /** Refuses an existing file at {@code p} unless it is a socket nobody listens on (a killed jvmm's), removed. */
    private static void replaceIfStale(Path p, String where) {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException absent) {
            return;
        } catch (IOException x) {
            throw new VmmException(VmmException.Reason.HOST, where + ": " + FileErrors.describe(x), x);
        }
        if ((mode & 0170000) != 0140000) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": " + p + " exists and is not a socket");
        }
        boolean listening;
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(p))) {
            listening = c.isConnected();
        } catch (ConnectException stale) {
            listening = false;
        } catch (IOException x) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": " + p + " exists and cannot be checked: "
                    + describe(x), x);
        }
        if (listening) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": " + p
                    + " exists and another process listens there");
        }
        LOG.info("migration: replacing the stale socket {} (nobody listens on it)", p);
        try {
            Files.deleteIfExists(p);
        } catch (IOException x) {
            throw new VmmException(VmmException.Reason.HOST, where + ": cannot remove the stale socket: "
                    + FileErrors.describe(x), x);
        }
    }

    /** A new 0700 directory in {@code parent} to bind the socket in before it is 0600. */
    private static Path privateDir(Path parent, String where) {
        for (int attempt = 0; ; attempt++) {
            Path dir = parent.resolve(".jvmm-mig-" + HexFormat.of().toHexDigits(
                    (short) ThreadLocalRandom.current().nextInt()));
            int len = dir.resolve("s").toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
            if (len > Endpoint.MAX_UNIX_PATH) {
                throw new VmmException(VmmException.Reason.CONFIG, where + ": the directory " + parent
                        + " is too deep: the temporary socket " + dir.resolve("s") + " would be " + len
                        + " bytes long (" + Endpoint.MAX_UNIX_PATH + " at most)");
            }
            try {
                return Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rwx------")));
            } catch (FileAlreadyExistsException taken) {
                if (attempt == 20) {
                    throw new VmmException(VmmException.Reason.HOST, where + ": cannot make a private directory in "
                            + parent, taken);
                }
            } catch (IOException x) {
                throw new VmmException(VmmException.Reason.HOST, where + ": cannot make a private directory in "
                        + parent + ": " + FileErrors.describe(x), x);
            }
        }
    }

    private static void unixBuffers(SocketChannel ch) {
        try {
            ch.setOption(StandardSocketOptions.SO_SNDBUF, UNIX_SOCKET_BUFFER);
            ch.setOption(StandardSocketOptions.SO_RCVBUF, UNIX_SOCKET_BUFFER);
        } catch (IOException | UnsupportedOperationException x) {
            LOG.debug("migration: cannot set the unix socket's buffers: {}", x.toString());
        }
    }

    /** {@code " (user NAME)"}: the peer process's user (SO_PEERCRED), or "" when it cannot be had. */
    private static String peerUser(SocketChannel ch) {
        try {
            Principal user = ch.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED).user();
            return " (user " + user.getName() + ")";
        } catch (IOException | RuntimeException x) {
            return "";
        }
    }

    private static String peerOf(Socket s) {
        return Endpoint.hostPort(s.getInetAddress().getHostAddress(), s.getPort());
    }

    private static long millis(Duration timeout) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("the timeout must be positive: " + timeout);
        }
        return Math.max(1, timeout.toMillis());
    }

    private static String human(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
    }

    private static String describe(Throwable x) {
        return FileErrors.describe(x);
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
    }
}

package dev.jvmm.vmm.migration;

import dev.jvmm.vmm.VmmException;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a migration stream goes: {@code unix:PATH} or {@code tcp:HOST:PORT} (HOST an IPv4 address, a host name or
 * {@code [IPv6]}), then comma-separated options: {@code tls-dir=DIR} (tcp only: mutual TLS with the PEM files in DIR,
 * see {@link MigrationTransport}) and {@code insecure=on} (tcp, receiving side only: listen in clear text on an
 * address that is not loopback). PATH and DIR cannot hold a comma.
 *
 * @param kind     the transport
 * @param path     the socket file ({@link Kind#UNIX}), else null
 * @param host     the host without brackets ({@link Kind#TCP}), else null
 * @param port     the TCP port (0: any free port, for a listener made in code; {@link #parse} refuses it), else 0
 * @param tlsDir   the directory of {@code ca.pem}, {@code cert.pem} and {@code key.pem}, or null for no TLS
 * @param insecure whether clear text is allowed on an address that is not loopback
 */
public record Endpoint(Kind kind, Path path, String host, int port, Path tlsDir, boolean insecure) {
    /** The longest path a unix socket address holds ({@code sun_path} less its NUL). */
    static final int MAX_UNIX_PATH = 107;

    /** A migration transport. */
    public enum Kind {
        /** A unix stream socket: the two VMMs on one host. */
        UNIX,
        /** TCP, optionally with mutual TLS. */
        TCP
    }

    /** Checks that the components fit the kind (a programming error otherwise: {@link #parse} reports user errors). */
    public Endpoint {
        Objects.requireNonNull(kind, "kind");
        if (kind == Kind.UNIX && (path == null || host != null || port != 0 || tlsDir != null || insecure)) {
            throw new IllegalArgumentException("a unix endpoint has a path and nothing else");
        }
        if (kind == Kind.TCP && (host == null || host.isEmpty() || path != null || port < 0 || port > 65535
                || tlsDir != null && insecure)) {
            throw new IllegalArgumentException("a tcp endpoint has a host, a port 0..65535 and tls-dir or insecure");
        }
    }

    /** A unix socket endpoint. */
    public static Endpoint unix(Path path) {
        return new Endpoint(Kind.UNIX, path, null, 0, null, false);
    }

    /** A TCP endpoint; {@code tlsDir} may be null. */
    public static Endpoint tcp(String host, int port, Path tlsDir, boolean insecure) {
        return new Endpoint(Kind.TCP, null, host, port, tlsDir, insecure);
    }

    /**
     * Parses {@code spec}; a {@link VmmException.Reason#CONFIG} error names {@code origin} (the option or field it
     * came from: {@code --incoming}, {@code destination}), the spec and what is wrong with it. Host names are not
     * resolved here.
     */
    public static Endpoint parse(String spec, String origin) {
        if (spec == null || spec.isBlank()) {
            throw new VmmException(VmmException.Reason.CONFIG, origin + ": empty; expected unix:PATH or tcp:HOST:PORT");
        }
        String[] parts = spec.split(",", -1);
        Path tlsDir = null;
        boolean insecure = false;
        boolean insecureGiven = false;
        for (int i = 1; i < parts.length; i++) {
            String o = parts[i];
            int eq = o.indexOf('=');
            String key = eq < 0 ? o : o.substring(0, eq);
            String value = eq < 0 ? null : o.substring(eq + 1);
            switch (key) {
                case "tls-dir":
                    if (tlsDir != null) {
                        throw bad(spec, origin, "tls-dir is given twice");
                    }
                    if (value == null || value.isEmpty()) {
                        throw bad(spec, origin, "tls-dir needs a directory: tls-dir=DIR");
                    }
                    tlsDir = path(value, spec, origin, "tls-dir");
                    break;
                case "insecure":
                    if (insecureGiven) {
                        throw bad(spec, origin, "insecure is given twice");
                    }
                    if (!"on".equals(value) && !"off".equals(value)) {
                        throw bad(spec, origin, "insecure takes on or off, not "
                                + (value == null ? "nothing" : "'" + value + "'") + ": insecure=on");
                    }
                    insecureGiven = true;
                    insecure = value.equals("on");
                    break;
                case "":
                    throw bad(spec, origin, o.isEmpty() ? "empty option (a stray comma?)" : "option without a name");
                default:
                    throw bad(spec, origin, "unknown option '" + key + "' (known: tls-dir=DIR, insecure=on)");
            }
        }
        String address = parts[0];
        if (address.startsWith("unix:")) {
            String p = address.substring("unix:".length());
            if (p.isEmpty()) {
                throw bad(spec, origin, "empty path (unix:PATH)");
            }
            int len = p.getBytes(StandardCharsets.UTF_8).length;
            if (len > MAX_UNIX_PATH) {
                throw bad(spec, origin, "the path is " + len + " bytes long; a unix socket's path holds at most "
                        + MAX_UNIX_PATH);
            }
            if (tlsDir != null) {
                throw bad(spec, origin, "tls-dir applies to tcp: only (a unix socket is reached from this host"
                        + " alone and its file is 0600)");
            }
            if (insecureGiven) {
                throw bad(spec, origin, "insecure applies to tcp: only");
            }
            return unix(path(p, spec, origin, "the path"));
        }
        if (address.startsWith("tcp:")) {
            String hp = address.substring("tcp:".length());
            String host;
            String port;
            if (hp.startsWith("[")) {
                int close = hp.indexOf(']');
                if (close < 0) {
                    throw bad(spec, origin, "'[' without ']' around the IPv6 address (tcp:[ADDRESS]:PORT)");
                }
                host = hp.substring(1, close);
                if (!host.matches("[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9_.-]+)?")) {
                    throw bad(spec, origin, "'" + host + "' is not an IPv6 address");
                }
                String rest = hp.substring(close + 1);
                if (!rest.startsWith(":")) {
                    throw bad(spec, origin, "missing port (tcp:[ADDRESS]:PORT)");
                }
                port = rest.substring(1);
            } else {
                int colon = hp.lastIndexOf(':');
                if (colon < 0) {
                    throw bad(spec, origin, "missing port (tcp:HOST:PORT)");
                }
                host = hp.substring(0, colon);
                port = hp.substring(colon + 1);
                if (host.contains(":")) {
                    throw bad(spec, origin, "an IPv6 address goes in brackets: tcp:[" + host + "]:PORT");
                }
                if (!host.isEmpty() && !host.matches("[A-Za-z0-9._-]+")) {
                    throw bad(spec, origin, "'" + host + "' is not an IPv4 address, a host name or [IPv6]");
                }
            }
            if (host.isEmpty()) {
                throw bad(spec, origin, "missing host (tcp:HOST:PORT; 0.0.0.0 listens on every IPv4 address)");
            }
            if (port.isEmpty()) {
                throw bad(spec, origin, "missing port (tcp:HOST:PORT)");
            }
            if (!port.matches("[0-9]{1,9}")) {
                throw bad(spec, origin, "port '" + port + "' is not a number");
            }
            int n = Integer.parseInt(port);
            if (n < 1 || n > 65535) {
                throw bad(spec, origin, "port " + n + " is out of range 1..65535");
            }
            if (tlsDir != null && insecure) {
                throw bad(spec, origin, "tls-dir and insecure=on contradict each other: with tls-dir the stream"
                        + " is encrypted");
            }
            return tcp(host, n, tlsDir, insecure);
        }
        throw bad(spec, origin, "expected unix:PATH or tcp:HOST:PORT");
    }

    /** {@code unix:PATH} or {@code tcp:HOST:PORT} (an IPv6 host in brackets), without options. */
    public String address() {
        return kind == Kind.UNIX ? "unix:" + path : "tcp:" + hostPort(host, port);
    }

    /** The endpoint in the form {@link #parse} reads. */
    @Override
    public String toString() {
        return address() + (tlsDir != null ? ",tls-dir=" + tlsDir : "") + (insecure ? ",insecure=on" : "");
    }

    /** {@code host:port}, an IPv6 host in brackets. */
    static String hostPort(String host, int port) {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    private static Path path(String p, String spec, String origin, String what) {
        try {
            return Path.of(p);
        } catch (InvalidPathException e) {
            throw bad(spec, origin, what + " '" + p + "' is not a valid path: " + e.getReason());
        }
    }

    private static VmmException bad(String spec, String origin, String problem) {
        return new VmmException(VmmException.Reason.CONFIG, origin + " " + spec + ": " + problem);
    }
}

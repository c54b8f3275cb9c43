package dev.jvmm.vmm.migration;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * One migration stream, made by {@link MigrationTransport#accept} or {@link MigrationTransport#connect}: buffered
 * data streams both ways over a unix socket, TCP or mutual TLS over TCP. Reading and writing may go on in two
 * threads at once. {@link #close()} from another thread stops a blocked read or write.
 */
public final class Connection implements AutoCloseable {
    /** The size of each direction's buffer. */
    public static final int BUFFER = 256 * 1024;

    private final Closeable[] closeables;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final String peer;
    private final boolean encrypted;

    /** {@code closeables}: closed in this order by {@link #close()} (the raw socket before its TLS layer). */
    Connection(InputStream in, OutputStream out, String peer, boolean encrypted, Closeable... closeables) {
        this.in = new DataInputStream(new BufferedInputStream(in, BUFFER));
        this.out = new DataOutputStream(new BufferedOutputStream(out, BUFFER));
        this.peer = peer;
        this.encrypted = encrypted;
        this.closeables = closeables;
    }

    /** A connection over a connected unix socket channel (blocking). */
    static Connection of(SocketChannel ch, String peer) {
        InputStream in = new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                int n;
                do {
                    n = ch.read(ByteBuffer.wrap(b, off, len));
                } while (n == 0);
                return n;
            }
        };
        OutputStream out = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                ByteBuffer bb = ByteBuffer.wrap(b, off, len);
                while (bb.hasRemaining()) {
                    ch.write(bb);
                }
            }
        };
        // not Channels.newInputStream/newOutputStream: on JDK 17 both hold the channel's blocking lock, so that a
        // thread blocked reading would stop another from writing
        return new Connection(in, out, peer, false, ch);
    }

    /** The stream from the peer, buffered. */
    public DataInputStream in() {
        return in;
    }

    /** The stream to the peer, buffered: {@code flush()} it to send what was written. */
    public DataOutputStream out() {
        return out;
    }

    /**
     * Who is at the other end: {@code 127.0.0.1:40312}, {@code [::1]:40312} or {@code unix:PATH}, followed for TLS
     * by the subject of the peer's certificate ({@code (TLS, CN=src)}) and for an accepted unix connection by the
     * peer process's user ({@code (user root)}).
     */
    public String peer() {
        return peer;
    }

    /** Whether the stream is encrypted (TLS). */
    public boolean encrypted() {
        return encrypted;
    }

    /**
     * Closes the socket; never throws, may be called more than once and from any thread. It does not flush
     * {@link #out()} (what was written and not flushed is dropped) and sends no TLS close_notify: the migration
     * protocol ends with its own last message, flushed, so that closing never waits for a peer that stopped reading.
     */
    @Override
    public void close() {
        for (Closeable c : closeables) {
            try {
                c.close();
            } catch (IOException | RuntimeException ignored) {
                // closing is best effort: the socket is gone either way
            }
        }
    }

    @Override
    public String toString() {
        return "migration connection with " + peer;
    }
}

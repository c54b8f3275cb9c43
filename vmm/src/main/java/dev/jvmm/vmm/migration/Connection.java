package dev.jvmm.vmm.migration;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * One migration stream, made by {@link MigrationTransport#accept} or {@link MigrationTransport#connect}: data streams
 * both ways over a unix socket, TCP or mutual TLS over TCP. Reading and writing may go on in two threads at once.
 * {@link #close()} from another thread stops a blocked read or write.
 *
 * <p>Bulk bytes (guest pages) go through {@link #write(ByteBuffer)} and {@link #read(ByteBuffer)}, in order with
 * the streams. On a plain socket (unix, TCP) they go straight between guest RAM and the socket: a page frame's
 * header and its pages leave in one {@code writev}, and pages are read from the socket into RAM, with no copy in
 * this process. Over TLS they pass through one buffer of {@link #BUFFER} bytes each way.
 */
public final class Connection implements AutoCloseable {
    /** The size of each direction's buffer. */
    public static final int BUFFER = 256 * 1024;

    private final Closeable[] closeables;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final String peer;
    private final boolean encrypted;
    /** Set on a plain socket: the streams' buffers, which {@link #read} and {@link #write} drain first. */
    private final ChannelIn channelIn;
    private final ChannelOut channelOut;
    /** Over TLS: the buffer bulk bytes pass through. */
    private final byte[] bulk;

    /** {@code closeables}: closed in this order by {@link #close()} (the raw socket before its TLS layer). */
    Connection(InputStream in, OutputStream out, String peer, boolean encrypted, Closeable... closeables) {
        this.in = new DataInputStream(new BufferedInputStream(in, BUFFER));
        this.out = new DataOutputStream(new BufferedOutputStream(out, BUFFER));
        this.peer = peer;
        this.encrypted = encrypted;
        this.closeables = closeables;
        this.channelIn = null;
        this.channelOut = null;
        this.bulk = new byte[BUFFER];
    }

    private Connection(SocketChannel ch, String peer) {
        this.channelIn = new ChannelIn(ch);
        this.channelOut = new ChannelOut(ch);
        this.in = new DataInputStream(channelIn);
        this.out = new DataOutputStream(channelOut);
        this.peer = peer;
        this.encrypted = false;
        this.closeables = new Closeable[] {ch};
        this.bulk = null;
    }

    /** A connection over a connected socket channel (unix or TCP), blocking. */
    static Connection of(SocketChannel ch, String peer) {
        return new Connection(ch, peer);
    }

    /** The stream from the peer: buffered. */
    public DataInputStream in() {
        return in;
    }

    /** The stream to the peer, buffered: {@code flush()} it to send what was written. */
    public DataOutputStream out() {
        return out;
    }

    /**
     * Sends {@code src}'s remaining bytes after what {@link #out()} holds (sent with them, not flushed after them):
     * on a plain socket straight from {@code src} (a direct buffer over guest RAM is not copied here).
     */
    public void write(ByteBuffer src) throws IOException {
        if (channelOut != null) {
            channelOut.writeAfterBuffered(src);
            return;
        }
        while (src.hasRemaining()) {
            int n = Math.min(bulk.length, src.remaining());
            src.get(bulk, 0, n);
            out.write(bulk, 0, n);
        }
    }

    /**
     * Fills {@code dst}'s remaining bytes from the peer, after what {@link #in()} has read; EOFException if the
     * stream ends first. On a plain socket the bytes are read straight into {@code dst}.
     */
    public void read(ByteBuffer dst) throws IOException {
        if (channelIn != null) {
            channelIn.readFully(dst);
            return;
        }
        while (dst.hasRemaining()) {
            int n = Math.min(bulk.length, dst.remaining());
            in.readFully(bulk, 0, n);
            dst.put(bulk, 0, n);
        }
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

    /** Whether bulk bytes go straight between memory and the socket (a plain socket), not through a buffer. */
    public boolean direct() {
        return channelIn != null;
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

    // Not Channels.newInputStream/newOutputStream: on JDK 17 both hold the channel's blocking lock, so that a thread
    // blocked reading would stop another from writing.

    /** The reading side of a socket channel: a direct buffer for the small fields, bulk reads around it. */
    private static final class ChannelIn extends InputStream {
        private final SocketChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024).flip();

        ChannelIn(SocketChannel ch) {
            this.ch = ch;
        }

        @Override
        public int read() throws IOException {
            if (!buf.hasRemaining() && !fill()) {
                return -1;
            }
            return buf.get() & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (!buf.hasRemaining() && !fill()) {
                return -1;
            }
            int n = Math.min(len, buf.remaining());
            buf.get(b, off, n);
            return n;
        }

        @Override
        public int available() {
            return buf.remaining();
        }

        private boolean fill() throws IOException {
            buf.clear();
            int n;
            do {
                n = ch.read(buf);
            } while (n == 0);
            buf.flip();
            return n > 0;
        }

        void readFully(ByteBuffer dst) throws IOException {
            if (buf.hasRemaining()) { // what the last fill read past the small fields
                int n = Math.min(buf.remaining(), dst.remaining());
                int lim = buf.limit();
                buf.limit(buf.position() + n);
                dst.put(buf);
                buf.limit(lim);
            }
            while (dst.hasRemaining()) {
                if (ch.read(dst) < 0) {
                    throw new EOFException("the peer closed the connection");
                }
            }
        }
    }

    /** The writing side of a socket channel: a direct buffer for the small fields, gathered with bulk writes. */
    private static final class ChannelOut extends OutputStream {
        private final SocketChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024);
        private final ByteBuffer[] pair = new ByteBuffer[2];

        ChannelOut(SocketChannel ch) {
            this.ch = ch;
        }

        @Override
        public void write(int b) throws IOException {
            if (!buf.hasRemaining()) {
                flush();
            }
            buf.put((byte) b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (!buf.hasRemaining()) {
                    flush();
                }
                int n = Math.min(len, buf.remaining());
                buf.put(b, off, n);
                off += n;
                len -= n;
            }
        }

        @Override
        public void flush() throws IOException {
            buf.flip();
            try {
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            } finally {
                buf.clear();
            }
        }

        void writeAfterBuffered(ByteBuffer src) throws IOException {
            buf.flip();
            pair[0] = buf;
            pair[1] = src;
            try {
                while (buf.hasRemaining() || src.hasRemaining()) {
                    ch.write(pair);
                }
            } finally {
                pair[1] = null;
                buf.clear();
            }
        }
    }
}

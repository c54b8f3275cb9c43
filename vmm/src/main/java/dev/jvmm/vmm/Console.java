package dev.jvmm.vmm;

import dev.jvmm.vmm.config.ConsoleSpec;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.BiConsumer;

/**
 * The serial console's host end: stdio (stdin feeds the UART), a file (output only, truncated at start), or a unix
 * socket server (one client at a time; output is dropped while none is connected). Outlives VM restarts.
 */
public final class Console implements AutoCloseable {
    private final ConsoleSpec spec;
    private final OutputStream out;
    private volatile BiConsumer<byte[], Integer> input = (b, n) -> { };
    private ServerSocketChannel server;
    private volatile SocketChannel client;
    private Thread reader;

    private Console(ConsoleSpec spec, OutputStream out) {
        this.spec = spec;
        this.out = out;
    }

    public static Console open(ConsoleSpec spec) {
        try {
            switch (spec.kind()) {
                case STDIO: {
                    Console c = new Console(spec, new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 8192));
                    c.startReader("console-stdin", System.in);
                    return c;
                }
                case FILE:
                    return new Console(spec, new BufferedOutputStream(Files.newOutputStream(spec.path(),
                            StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)));
                case SOCKET: {
                    Files.deleteIfExists(spec.path());
                    ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                    s.bind(UnixDomainSocketAddress.of(spec.path()));
                    Console[] holder = new Console[1];
                    OutputStream sock = new OutputStream() {
                        @Override
                        public void write(int b) throws IOException {
                            write(new byte[] {(byte) b}, 0, 1);
                        }

                        @Override
                        public void write(byte[] b, int off, int len) throws IOException {
                            SocketChannel c = holder[0].client;
                            if (c != null) {
                                try {
                                    ByteBuffer bb = ByteBuffer.wrap(b, off, len);
                                    while (bb.hasRemaining()) {
                                        c.write(bb);
                                    }
                                } catch (IOException e) {
                                    holder[0].client = null;
                                }
                            }
                        }
                    };
                    Console c = new Console(spec, new BufferedOutputStream(sock, 4096));
                    holder[0] = c;
                    c.server = s;
                    c.startAcceptor();
                    return c;
                }
                default:
                    return new Console(spec, OutputStream.nullOutputStream());
            }
        } catch (IOException e) {
            throw new VmmException(VmmException.Reason.CONFIG, "--console: cannot open " + spec + ": " + e.getMessage(), e);
        }
    }

    public OutputStream output() {
        return out;
    }

    /** Where guest input goes (the UART's receive path); replaced on each VM (re)start. */
    public void setInput(BiConsumer<byte[], Integer> sink) {
        this.input = sink;
    }

    private void startReader(String name, InputStream in) {
        reader = new Thread(() -> {
            byte[] buf = new byte[256];
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    input.accept(buf, n);
                }
            } catch (IOException e) {
                // stdin closed
            }
        }, name);
        reader.setDaemon(true);
        reader.start();
    }

    private void startAcceptor() {
        reader = new Thread(() -> {
            ByteBuffer buf = ByteBuffer.allocate(256);
            while (server.isOpen()) {
                try (SocketChannel c = server.accept()) {
                    client = c;
                    while (true) {
                        buf.clear();
                        int n = c.read(buf);
                        if (n < 0) {
                            break;
                        }
                        input.accept(buf.array(), n);
                    }
                } catch (IOException e) {
                    // client gone or server closed
                }
                client = null;
            }
        }, "console-socket");
        reader.setDaemon(true);
        reader.start();
    }

    @Override
    public void close() {
        try {
            out.flush();
        } catch (IOException e) {
            // nothing to do
        }
        if (spec.kind() != ConsoleSpec.Kind.STDIO) {
            try {
                out.close();
            } catch (IOException e) {
                // nothing to do
            }
        }
        if (server != null) {
            try {
                server.close();
                Files.deleteIfExists(spec.path());
            } catch (IOException e) {
                // nothing to do
            }
        }
    }

}

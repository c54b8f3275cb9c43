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
 * The host ends of a VM's consoles, which outlive VM restarts. The serial console's: stdio (stdin feeds the UART), a
 * file (output only, truncated at start), or a unix socket server (one client at a time; output is dropped while none
 * is connected). And the virtio console's ports ({@link #virtioPorts}), made when the first VM asks for them and kept
 * for the next ones, so that a client stays connected across a guest reboot.
 */
public final class Console implements AutoCloseable {
    private final ConsoleSpec spec;
    /** The virtio console's port ends and the config they were made for (null until asked). */
    private java.util.List<dev.jvmm.virtio.console.PortEnd> virtioEnds;
    private dev.jvmm.vmm.config.VirtioConsoleConfig virtioFor;
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

    /**
     * The host ends of virtio console {@code c}: port 0's (null when it has no console port), then each named port's
     * unix socket, in order. Opened on the first call (a socket that cannot be made fails it, naming the option) and
     * the same ends after that; closed with this console.
     */
    public synchronized java.util.List<dev.jvmm.virtio.console.PortEnd> virtioPorts(
            dev.jvmm.vmm.config.VirtioConsoleConfig c) {
        if (virtioEnds != null) {
            if (!c.equals(virtioFor)) {
                throw new VmmException(VmmException.Reason.INTERNAL, "the virtio console changed between boots");
            }
            return virtioEnds;
        }
        java.util.List<dev.jvmm.virtio.console.PortEnd> ends = new java.util.ArrayList<>();
        try {
            ends.add(c.console() == null ? null : portEnd("--virtio-console", c.console()));
            for (dev.jvmm.vmm.config.VirtioConsoleConfig.Port p : c.ports()) {
                ends.add(portEnd("--console-port " + p.name(), new ConsoleSpec(ConsoleSpec.Kind.SOCKET, p.socket())));
            }
        } catch (RuntimeException e) {
            for (dev.jvmm.virtio.console.PortEnd end : ends) {
                if (end != null) {
                    end.close();
                }
            }
            throw e;
        }
        virtioEnds = java.util.Collections.unmodifiableList(ends);
        virtioFor = c;
        return virtioEnds;
    }

    private static dev.jvmm.virtio.console.PortEnd portEnd(String option, ConsoleSpec s) {
        try {
            return switch (s.kind()) {
                case STDIO -> dev.jvmm.virtio.console.PortEnd.stdio();
                case FILE -> dev.jvmm.virtio.console.PortEnd.file(s.path());
                case SOCKET -> dev.jvmm.virtio.console.PortEnd.socket(s.path());
                case NONE -> dev.jvmm.virtio.console.PortEnd.none();
            };
        } catch (dev.jvmm.virtio.VirtioException e) {
            throw new VmmException(VmmException.Reason.CONFIG, option + ": " + e.getMessage(), e);
        }
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
        synchronized (this) {
            if (virtioEnds != null) {
                for (dev.jvmm.virtio.console.PortEnd end : virtioEnds) {
                    if (end != null) {
                        end.close();
                    }
                }
                virtioEnds = null;
            }
        }
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

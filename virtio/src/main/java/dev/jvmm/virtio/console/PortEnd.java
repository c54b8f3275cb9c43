package dev.jvmm.virtio.console;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.UnixSocket;
import dev.jvmm.virtio.VirtioException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The host end of one virtio-console port: where the guest's output goes and where its input comes from. A
 * {@link VirtioConsole}'s thread serves it in its own epoll; the end itself is owned by whoever made it and outlives
 * the device (a guest reboot builds a new device on the same ends, so a client stays connected across it). The device
 * never closes an end.
 *
 * <ul>
 * <li>{@link #socket}: a unix socket jvmm listens on (mode 0600); one client at a time, the next ones wait in the
 * listen backlog until it leaves. While no client is connected the guest's output is dropped.</li>
 * <li>{@link #stdio}: jvmm's stdin and stdout (left blocking: their flags belong to the terminal).</li>
 * <li>{@link #file}: output only, the file truncated when the end is made.</li>
 * <li>{@link #none}: output dropped, no input.</li>
 * </ul>
 * Methods are called by one device thread at a time; they are synchronized all the same.
 */
public abstract class PortEnd implements AutoCloseable {
    /** Connections a socket end keeps waiting while one is served. */
    static final int BACKLOG = 4;

    /** A listening socket to watch for clients (null: not a socket end). */
    public Fd listener() {
        return null;
    }

    /** Takes the next waiting client when none is connected; true when one was taken. */
    public boolean accept() {
        return false;
    }

    /** Where the host's input is read from now (null: none). */
    public abstract Fd input();

    /** Where the guest's output is written now (null: it is dropped). */
    public abstract Fd output();

    /** Whether {@link #output()} is a socket: sent without blocking and without SIGPIPE. */
    public boolean socketOutput() {
        return false;
    }

    /** Whether something is at the host end (a client of a socket end; always for stdio and a file). */
    public abstract boolean connected();

    /** The input reached its end or failed: a socket end lets its client go, stdio stops reading stdin. */
    public abstract void inputEnded();

    /** Writing the output failed: a socket end lets its client go, others drop the output from now on. */
    public abstract void outputFailed();

    /** Clients taken so far (a socket end). */
    public long clients() {
        return 0;
    }

    @Override
    public void close() {
    }

    /**
     * A unix socket listening at {@code path}. A stale socket file there (nothing accepts on it) is replaced; a
     * live one, or a file that is not a socket, is refused, as is a directory that does not exist. Failures are
     * {@link VirtioException}s of reason BACKEND naming the path.
     */
    public static PortEnd socket(Path path) {
        return new SocketEnd(path);
    }

    public static PortEnd stdio() {
        return new StdioEnd();
    }

    /** Output into {@code path}, created or truncated now. */
    public static PortEnd file(Path path) {
        Fd fd;
        try {
            fd = Fd.open(path.toString(), Native.O_WRONLY | Native.O_CREAT | Native.O_TRUNC, 0644);
        } catch (ErrnoException e) {
            throw new VirtioException(VirtioException.Reason.BACKEND, "cannot open " + path + ": " + e.getMessage(), e);
        }
        return new FileEnd(path, fd);
    }

    public static PortEnd none() {
        return new NoneEnd();
    }

    private static final class SocketEnd extends PortEnd {
        private final Path path;
        private final Fd listener;
        private Fd client;
        private long clients;

        SocketEnd(Path path) {
            this.path = path;
            removeStale(path);
            try {
                listener = UnixSocket.listen(path, BACKLOG);
            } catch (ErrnoException | IllegalArgumentException e) {
                throw new VirtioException(VirtioException.Reason.BACKEND, "cannot listen on " + path + ": "
                        + e.getMessage(), e);
            }
            try {
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
            } catch (IOException | UnsupportedOperationException e) {
                listener.close();
                throw new VirtioException(VirtioException.Reason.BACKEND, "cannot make " + path + " mode 0600: " + e, e);
            }
        }

        private static void removeStale(Path path) {
            if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                return;
            }
            boolean socket;
            try {
                socket = ((Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000) == 0140000;
            } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
                socket = false;
            }
            if (!socket) {
                throw new VirtioException(VirtioException.Reason.BACKEND, path + " exists and is not a socket (jvmm "
                        + "replaces only a stale socket there)");
            }
            try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                probe.connect(UnixDomainSocketAddress.of(path));
                throw new VirtioException(VirtioException.Reason.BACKEND, path + ": another process listens on it");
            } catch (IOException stale) {
                // nobody accepts there: a socket left by a process that is gone
            }
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                throw new VirtioException(VirtioException.Reason.BACKEND, "cannot remove the stale socket " + path
                        + ": " + e, e);
            }
        }

        @Override
        public Fd listener() {
            return listener;
        }

        @Override
        public synchronized boolean accept() {
            if (client != null || !listener.isOpen()) {
                return false;
            }
            client = UnixSocket.accept(listener);
            if (client != null) {
                clients++;
            }
            return client != null;
        }

        @Override
        public synchronized Fd input() {
            return client;
        }

        @Override
        public synchronized Fd output() {
            return client;
        }

        @Override
        public boolean socketOutput() {
            return true;
        }

        @Override
        public synchronized boolean connected() {
            return client != null;
        }

        @Override
        public synchronized void inputEnded() {
            drop();
        }

        @Override
        public synchronized void outputFailed() {
            drop();
        }

        private void drop() {
            if (client != null) {
                client.close();
                client = null;
            }
        }

        @Override
        public synchronized long clients() {
            return clients;
        }

        @Override
        public synchronized void close() {
            drop();
            if (listener.isOpen()) {
                listener.close();
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    // nothing to do at exit
                }
            }
        }

        @Override
        public String toString() {
            return "socket " + path;
        }
    }

    private static final class StdioEnd extends PortEnd {
        private Fd in = new Fd(0, "stdin");
        private Fd out = new Fd(1, "stdout");

        @Override
        public synchronized Fd input() {
            return in;
        }

        @Override
        public synchronized Fd output() {
            return out;
        }

        @Override
        public boolean connected() {
            return true;
        }

        @Override
        public synchronized void inputEnded() {
            in = null; // never closed: fd 0 is the process's
        }

        @Override
        public synchronized void outputFailed() {
            out = null;
        }

        @Override
        public String toString() {
            return "stdio";
        }
    }

    private static final class FileEnd extends PortEnd {
        private final Path path;
        private final Fd fd;
        private boolean failed;

        FileEnd(Path path, Fd fd) {
            this.path = path;
            this.fd = fd;
        }

        @Override
        public Fd input() {
            return null;
        }

        @Override
        public synchronized Fd output() {
            return failed ? null : fd;
        }

        @Override
        public boolean connected() {
            return true;
        }

        @Override
        public void inputEnded() {
        }

        @Override
        public synchronized void outputFailed() {
            failed = true;
        }

        @Override
        public synchronized void close() {
            fd.close();
        }

        @Override
        public String toString() {
            return "file " + path;
        }
    }

    private static final class NoneEnd extends PortEnd {
        @Override
        public Fd input() {
            return null;
        }

        @Override
        public Fd output() {
            return null;
        }

        @Override
        public boolean connected() {
            return false;
        }

        @Override
        public void inputEnded() {
        }

        @Override
        public void outputFailed() {
        }

        @Override
        public String toString() {
            return "none";
        }
    }
}

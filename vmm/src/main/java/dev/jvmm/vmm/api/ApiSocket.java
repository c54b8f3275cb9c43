package dev.jvmm.vmm.api;

import dev.jvmm.sys.FileErrors;
import dev.jvmm.vmm.VmmException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API socket's file: where it is, that nobody but its owner can ever connect to it, and that it is gone at the
 * end. A new socket file takes its mode from the umask, so it is never bound at its final path: the server binds
 * {@link #bindPath()} inside a fresh 0700 directory next to it, {@link #publish()} makes the socket 0600 and links it
 * into place ({@code link(2)}, which fails rather than replace a file that appeared meanwhile), then removes the
 * directory. An existing file at the path is replaced only when it is a socket nobody listens on (a killed jvmm's):
 * connecting to it is refused ({@code ECONNREFUSED}).
 */
final class ApiSocket {
    private static final Logger LOG = LoggerFactory.getLogger(ApiSocket.class);
    /** The longest path a unix socket address holds ({@code sun_path} less its NUL). */
    static final int MAX_PATH = 107;
    private static final Set<PosixFilePermission> OWNER_RWX = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_RW = PosixFilePermissions.fromString("rw-------");
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private final Path path;
    private final Path dir;
    private Object published;

    private ApiSocket(Path path, Path dir) {
        this.path = path;
        this.dir = dir;
    }

    /**
     * Checks {@code socket} (replacing a stale socket there) and makes the private directory to bind in. Fails with a
     * {@link VmmException.Reason#CONFIG} error naming the path when the path cannot be used, HOST when the file
     * system refuses.
     */
    static ApiSocket prepare(Path socket) {
        Path p = socket.toAbsolutePath().normalize();
        if (length(p) > MAX_PATH) {
            throw config(p, "is " + length(p) + " bytes long; a unix socket's path has at most " + MAX_PATH);
        }
        Path parent = p.getParent();
        if (parent == null || p.getFileName() == null) {
            throw config(p, "is not a file path");
        }
        if (!Files.isDirectory(parent)) {
            throw config(p, "the directory " + parent + " does not exist");
        }
        replaceIfStale(p);
        // the name need not be secret: the directory is made exclusively (mkdir fails on anything there, a symbolic
        // link too), 0700 from the start
        for (int attempt = 0; ; attempt++) {
            String name = ".jvmm-api-" + HexFormat.of().toHexDigits((short) ThreadLocalRandom.current().nextInt());
            Path dir = parent.resolve(name);
            if (length(dir.resolve("s")) > MAX_PATH) {
                throw config(p, "is too long: its directory leaves no room for the temporary socket " + dir.resolve("s")
                        + " (" + MAX_PATH + " bytes at most)");
            }
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_RWX));
                return new ApiSocket(p, dir);
            } catch (FileAlreadyExistsException taken) {
                if (attempt == 20) {
                    throw host(p, "cannot make a private directory next to it: " + FileErrors.describe(taken), taken);
                }
            } catch (IOException e) {
                throw host(p, "cannot make a private directory next to it: " + FileErrors.describe(e), e);
            }
        }
    }

    /** The socket's final path. */
    Path path() {
        return path;
    }

    /** Where the server binds: inside the private directory. */
    Path bindPath() {
        return dir.resolve("s");
    }

    /** Makes the bound socket 0600, puts it at {@link #path()} and removes the private directory. */
    void publish() {
        Path bound = bindPath();
        try {
            Files.setPosixFilePermissions(bound, OWNER_RW);
            Object key = Files.readAttributes(bound, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            boolean linked;
            try {
                Files.createLink(path, bound);
                linked = true;
            } catch (FileAlreadyExistsException e) {
                throw config(path, "exists (made while jvmm was starting; another jvmm?)");
            } catch (UnsupportedOperationException | IOException noLink) {
                // a file system without hard links: rename(2) is atomic too, but replaces what appeared meanwhile
                LOG.debug("linking {} to {} failed ({}); renaming it", bound, path, noLink.toString());
                Files.move(bound, path, StandardCopyOption.ATOMIC_MOVE);
                linked = false;
            }
            published = key;
            if (linked) {
                Files.delete(bound);
            }
            Files.delete(dir);
        } catch (IOException e) {
            throw host(path, "cannot put the socket in place: " + FileErrors.describe(e), e);
        }
    }

    /**
     * Removes the socket, if the file at {@link #path()} is still the one {@link #publish()} put there (not another
     * jvmm's that replaced it), and the private directory if it is still there. Never throws.
     */
    void remove() {
        try {
            if (published != null && Objects.equals(published,
                    Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey())) {
                Files.delete(path);
            }
        } catch (NoSuchFileException gone) {
            // removed by someone else
        } catch (IOException e) {
            LOG.warn("cannot remove the API socket {}: {}", path, FileErrors.describe(e));
        }
        published = null;
        try {
            Files.deleteIfExists(bindPath());
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            LOG.warn("cannot remove {}: {}", dir, FileErrors.describe(e));
        }
    }

    /**
     * Leaves {@code p} alone when nothing is there; deletes it when it is a socket that refuses connections; refuses
     * anything else.
     */
    private static void replaceIfStale(Path p) {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException absent) {
            return;
        } catch (IOException e) {
            throw host(p, "cannot be checked: " + FileErrors.describe(e), e);
        }
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw config(p, "exists and is not a socket (jvmm replaces only a stale socket)");
        }
        boolean listening;
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(p))) {
            listening = c.isConnected();
        } catch (ConnectException refused) {
            listening = false;
        } catch (IOException e) {
            throw config(p, "exists and cannot be checked: connecting to it failed: " + FileErrors.describe(e));
        }
        if (listening) {
            throw config(p, "exists and another process listens there (a running jvmm?)");
        }
        LOG.info("replacing the stale API socket {} (nobody listens on it: its jvmm was killed?)", p);
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw host(p, "is a stale socket that cannot be removed: " + FileErrors.describe(e), e);
        }
    }

    /** Whether {@code p} is a socket file (not following a symbolic link). */
    static boolean isSocket(Path p) {
        try {
            return ((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & S_IFMT) == S_IFSOCK;
        } catch (IOException e) {
            return false;
        }
    }

    private static int length(Path p) {
        return p.toString().getBytes(StandardCharsets.UTF_8).length;
    }

    private static VmmException config(Path p, String what) {
        return new VmmException(VmmException.Reason.CONFIG, "API socket " + p + ": " + what);
    }

    private static VmmException host(Path p, String what, Throwable cause) {
        return new VmmException(VmmException.Reason.HOST, "API socket " + p + ": " + what, cause);
    }
}

package dev.jvmm.sriov;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * Reads and writes sysfs below a configurable root ({@code /sys} by default; unit tests use a fake tree).
 * Writes go through write(2) so that the kernel's errno (EBUSY, ENOMEM, ...) reaches the caller intact, and run
 * under a timeout because a driver's sriov_configure can block for a long time.
 */
public class Sysfs {
    private final Path root;
    private final Duration writeTimeout;

    public Sysfs(Path root, Duration writeTimeout) {
        this.root = root;
        this.writeTimeout = writeTimeout;
    }

    public Sysfs(Path root) {
        this(root, Duration.ofMinutes(2));
    }

    public static Sysfs system() {
        return new Sysfs(Path.of("/sys"));
    }

    public Path root() {
        return root;
    }

    public Path pciDevices() {
        return root.resolve("bus/pci/devices");
    }

    public Path pciDevice(PciAddress a) {
        return pciDevices().resolve(a.toString());
    }

    public Path pciDrivers() {
        return root.resolve("bus/pci/drivers");
    }

    public Path classNet() {
        return root.resolve("class/net");
    }

    /** Trimmed contents, or null when the file does not exist. */
    public String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8).trim();
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new SriovException(SriovException.Reason.SYSFS, "cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    public Integer readInt(Path p) {
        String s = read(p);
        if (s == null) {
            return null;
        }
        try {
            return Integer.decode(s);
        } catch (NumberFormatException e) {
            throw new SriovException(SriovException.Reason.SYSFS, p + " holds '" + s + "', not a number", e);
        }
    }

    /** The last path element a symlink points to ({@code driver -> ../../bus/pci/drivers/igb} gives igb), or null. */
    public String linkName(Path p) {
        try {
            return Files.isSymbolicLink(p) ? Files.readSymbolicLink(p).getFileName().toString() : null;
        } catch (IOException e) {
            throw new SriovException(SriovException.Reason.SYSFS, "cannot read link " + p + ": " + e.getMessage(), e);
        }
    }

    public List<String> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            List<String> out = new ArrayList<>(s.map(x -> x.getFileName().toString()).sorted().toList());
            return out;
        } catch (IOException e) {
            throw new SriovException(SriovException.Reason.SYSFS, "cannot list " + p(dir) + ": " + e.getMessage(), e);
        }
    }

    private static String p(Path x) {
        return x.toString();
    }

    /**
     * Writes {@code value} to {@code p} with one write(2). Failures come back as {@link ErrnoException} with the
     * kernel's errno ({@code op} {@code write}, context the path and value); a write that blocks past the
     * timeout is a {@link SriovException} TIMEOUT.
     */
    public void write(Path p, String value) {
        FutureTask<Void> task = new FutureTask<>(() -> {
            writeNow(p, value);
            return null;
        });
        Thread t = new Thread(task, "sysfs-write");
        t.setDaemon(true); // a write stuck in the kernel must not keep the JVM alive
        t.start();
        try {
            task.get(writeTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new SriovException(SriovException.Reason.TIMEOUT, "writing '" + value.trim() + "' to " + p
                    + " did not finish within " + writeTimeout.toSeconds() + " s (the driver is still busy)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SriovException(SriovException.Reason.SYSFS, "interrupted writing " + p, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new SriovException(SriovException.Reason.SYSFS, "writing " + p + " failed", e.getCause());
        }
    }

    /** The write itself; the fake kernel of the unit tests overrides this to react like the real one. */
    protected void writeNow(Path p, String value) {
        byte[] b = value.getBytes(StandardCharsets.UTF_8);
        try (Fd fd = Fd.open(p.toString(), Native.O_WRONLY | Native.O_TRUNC); NativeBuffer buf = new NativeBuffer(Math.max(1, b.length))) {
            buf.put(0, b, 0, b.length);
            long n = fd.write(buf.address(), b.length);
            if (n != b.length) {
                throw new ErrnoException("write", dev.jvmm.sys.Errno.EIO, p + " <- '" + value.trim() + "' (short write " + n + ")");
            }
        } catch (ErrnoException e) {
            if (e.op().equals("write") && e.context().equals(p.toString())) {
                throw new ErrnoException("write", e.errno(), p + " <- '" + value.trim() + "'");
            }
            throw e;
        }
    }
}

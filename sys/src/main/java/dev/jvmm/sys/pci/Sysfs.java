package dev.jvmm.sys.pci;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * Reads and writes sysfs below a configurable root ({@code /sys} by default; unit tests use a fake tree). Reads of
 * a missing file give null (or an empty list), so a caller can tell "absent" from "present"; a file that exists but
 * cannot be read is a {@link PciException.Reason#SYSFS}. Writes go through one write(2) so that the kernel's errno
 * (EBUSY, ENOMEM, ENODEV...) reaches the caller intact as an {@link ErrnoException}, and run under a timeout
 * because a driver's probe or sriov_configure can block for a long time.
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

    /** The running host's {@code /sys}. */
    public static Sysfs system() {
        return new Sysfs(Path.of("/sys"));
    }

    public Path root() {
        return root;
    }

    /** {@code /sys/bus/pci/devices}: one link per PCI function, named by its address. */
    public Path pciDevices() {
        return root.resolve("bus/pci/devices");
    }

    public Path pciDevice(PciAddress a) {
        return pciDevices().resolve(a.toString());
    }

    /** {@code /sys/bus/pci/drivers}: one directory per loaded PCI driver. */
    public Path pciDrivers() {
        return root.resolve("bus/pci/drivers");
    }

    /** {@code /sys/bus/pci/drivers_probe}: writing an address there makes the kernel probe a driver for it. */
    public Path driversProbe() {
        return root.resolve("bus/pci/drivers_probe");
    }

    /** {@code /sys/kernel/iommu_groups}. */
    public Path iommuGroups() {
        return root.resolve("kernel/iommu_groups");
    }

    public Path classNet() {
        return root.resolve("class/net");
    }

    /** Trimmed contents, or null when the file does not exist. */
    public String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8).trim();
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new PciException(PciException.Reason.SYSFS, "cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    /** A decimal or 0x-hex number, or null when the file does not exist. */
    public Integer readInt(Path p) {
        String s = read(p);
        if (s == null) {
            return null;
        }
        try {
            return Integer.decode(s);
        } catch (NumberFormatException e) {
            throw new PciException(PciException.Reason.SYSFS, p + " holds '" + s + "', not a number", e);
        }
    }

    /**
     * The last path element a symlink points to ({@code driver -> ../../bus/pci/drivers/igb} gives igb), or null
     * when there is no link. The link itself is read, not followed, so a dangling one still names its target.
     */
    public String linkName(Path p) {
        try {
            return Files.isSymbolicLink(p) ? Files.readSymbolicLink(p).getFileName().toString() : null;
        } catch (IOException e) {
            throw new PciException(PciException.Reason.SYSFS, "cannot read link " + p + ": " + e.getMessage(), e);
        }
    }

    /** Entry names of a directory, sorted; empty when it does not exist. */
    public List<String> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(x -> x.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new PciException(PciException.Reason.SYSFS, "cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes {@code value} to {@code p} with one write(2). Failures come back as {@link ErrnoException} with the
     * kernel's errno ({@code op} {@code write}, context the path and value); a write that blocks past the
     * timeout is a {@link PciException.Reason#TIMEOUT}.
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
            throw new PciException(PciException.Reason.TIMEOUT, "writing '" + value.trim() + "' to " + p
                    + " did not finish within " + writeTimeout.toSeconds() + " s (the driver is still busy)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PciException(PciException.Reason.SYSFS, "interrupted writing " + p, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err; // as if the write had been made on this thread
            }
            throw new PciException(PciException.Reason.SYSFS, "writing " + p + " failed", e.getCause());
        }
    }

    /** The write itself; the fake kernels of unit tests override this to react like the real one. */
    protected void writeNow(Path p, String value) {
        byte[] b = value.getBytes(StandardCharsets.UTF_8);
        try (Fd fd = Fd.open(p.toString(), Native.O_WRONLY | Native.O_TRUNC);
                NativeBuffer buf = new NativeBuffer(Math.max(1, b.length))) {
            buf.put(0, b, 0, b.length);
            long n = fd.write(buf.address(), b.length);
            if (n != b.length) {
                throw new ErrnoException("write", Errno.EIO, p + " <- '" + value.trim() + "' (short write " + n + ")");
            }
        } catch (ErrnoException e) {
            if (e.op().equals("write") && e.context().equals(p.toString())) {
                throw new ErrnoException("write", e.errno(), p + " <- '" + value.trim() + "'");
            }
            throw e;
        }
    }
}

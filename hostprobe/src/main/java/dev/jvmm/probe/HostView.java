package dev.jvmm.probe;

import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.Fd;
import dev.jvmm.sys.Native;
import dev.jvmm.sys.NativeBuffer;
import dev.jvmm.sys.pci.PciDevices;
import dev.jvmm.sys.pci.Sysfs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Read-only access to a host's sysfs, procfs, /dev (with the kernel log, {@link #kernelLog()}) and module tree
 * under configurable {@link Roots}. Every reader returns an empty value for a missing file, so a check can tell
 * "absent" from "present"; a file that exists but cannot be read is reported through {@link #readError(Path)}.
 */
public final class HostView {
    /** More records than a kernel log ring holds; a bound on reading a log that is being written fast. */
    private static final int MAX_KMSG_RECORDS = 100_000;
    /** read(2) on /dev/kmsg returns EPIPE when the record it was at has been overwritten; the next read goes on. */
    private static final String EPIPE = "EPIPE";

    private final Roots roots;
    private final PciDevices pci;

    public HostView(Roots roots) {
        this.roots = roots;
        this.pci = new PciDevices(new Sysfs(roots.sys()));
    }

    /** The host's PCI functions, read from this view's sysfs. */
    public PciDevices pci() {
        return pci;
    }

    public Roots roots() {
        return roots;
    }

    public Path sys(String rel) {
        return roots.sys().resolve(rel);
    }

    public Path proc(String rel) {
        return roots.proc().resolve(rel);
    }

    public Path dev(String rel) {
        return roots.dev().resolve(rel);
    }

    public Path modules(String rel) {
        return roots.modules().resolve(rel);
    }

    /** How a path is shown in evidence: its path as on the host (fake roots shown relative to their root). */
    public String show(Path p) {
        for (var e : List.of(new Object[] {roots.sys(), "/sys"}, new Object[] {roots.proc(), "/proc"},
                new Object[] {roots.dev(), "/dev"}, new Object[] {roots.etc(), "/etc"},
                new Object[] {roots.modules(), "/lib/modules"})) {
            Path r = (Path) e[0];
            if (p.startsWith(r)) {
                String rest = r.relativize(p).toString();
                return rest.isEmpty() ? (String) e[1] : e[1] + "/" + rest;
            }
        }
        return p.toString();
    }

    public boolean exists(Path p) {
        return Files.exists(p);
    }

    public boolean isDirectory(Path p) {
        return Files.isDirectory(p);
    }

    /** The whole file, or empty when it does not exist or cannot be read. */
    public Optional<String> read(Path p) {
        try {
            return Optional.of(Files.readString(p, StandardCharsets.ISO_8859_1));
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
    }

    /** The first line, trimmed, or empty. */
    public Optional<String> line(Path p) {
        return read(p).map(s -> {
            int nl = s.indexOf('\n');
            return (nl < 0 ? s : s.substring(0, nl)).trim();
        });
    }

    /** The bytes of a binary file (PCI config space), at most {@code max}; empty when unreadable. */
    public Optional<byte[]> bytes(Path p, int max) {
        try (var in = Files.newInputStream(p)) {
            return Optional.of(in.readNBytes(max));
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
    }

    /** Why an existing file cannot be read, or empty when it reads fine or does not exist. */
    public Optional<String> readError(Path p) {
        try {
            Files.readAllBytes(p);
            return Optional.empty();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | SecurityException e) {
            return Optional.of(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    /** An integer file (decimal, or hex with 0x), or empty. */
    public Optional<Long> number(Path p) {
        return line(p).flatMap(HostView::parseNumber);
    }

    static Optional<Long> parseNumber(String s) {
        try {
            String t = s.trim();
            if (t.startsWith("0x") || t.startsWith("0X")) {
                return Optional.of(Long.parseUnsignedLong(t.substring(2), 16));
            }
            return Optional.of(Long.parseLong(t));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Entry names of a directory, sorted; empty when it does not exist. */
    public List<String> list(Path dir) {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                out.add(p.getFileName().toString());
            }
        } catch (IOException | SecurityException e) {
            return List.of();
        }
        out.sort(null);
        return out;
    }

    /** The last component of a symlink's target ({@code driver} → {@code igb}), or empty. */
    public Optional<String> linkName(Path p) {
        try {
            Path t = Files.readSymbolicLink(p);
            Path f = t.getFileName();
            return Optional.ofNullable(f).map(Path::toString);
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return Optional.empty();
        }
    }

    /** The real path of a sysfs device (resolving the bus symlink), or the path itself. */
    public Path real(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p;
        }
    }

    public boolean readableWritable(Path p) {
        return Files.isReadable(p) && Files.isWritable(p);
    }

    /**
     * The kernel log's messages, oldest first, as {@code dmesg} shows them without timestamps: the text of each
     * {@code /dev/kmsg} record ({@code 6,341,277565,-;kvm-pvm: ...}). Empty when {@code /dev/kmsg} does not exist
     * or cannot be read ({@code kernel.dmesg_restrict=1} keeps it from users without CAP_SYSLOG). On the running
     * host {@code /dev/kmsg} is read one record per read(2), non-blocking, so reading stops at the end of the log
     * (see the kernel's Documentation/ABI/testing/dev-kmsg); a fake root's {@code dev/kmsg} is a plain file of
     * records, one a line.
     */
    public Optional<List<String>> kernelLog() {
        Path kmsg = dev("kmsg");
        if (!exists(kmsg)) {
            return Optional.empty();
        }
        if (Files.isRegularFile(kmsg)) {
            return read(kmsg).map(s -> {
                List<String> out = new ArrayList<>();
                for (String record : s.split("\n")) {
                    if (!record.startsWith(" ")) { // continuation lines (" SUBSYSTEM=...") carry no text
                        out.add(kmsgText(record));
                    }
                }
                return out;
            });
        }
        List<String> out = new ArrayList<>();
        try (Fd fd = Fd.open(kmsg.toString(), Native.O_RDONLY | Native.O_NONBLOCK);
                NativeBuffer buf = new NativeBuffer(8192)) { // a record is at most 1024 bytes of text
            while (out.size() < MAX_KMSG_RECORDS) {
                long n;
                try {
                    n = fd.read(buf.address(), buf.size());
                } catch (ErrnoException e) {
                    if (e.errnoName().equals(EPIPE)) {
                        continue;
                    }
                    throw e;
                }
                if (n <= 0) { // -1: EAGAIN, the end of the log
                    break;
                }
                byte[] b = new byte[(int) n];
                buf.get(0, b, 0, b.length);
                out.add(kmsgText(new String(b, StandardCharsets.ISO_8859_1)));
            }
        } catch (RuntimeException | LinkageError e) { // EPERM/EACCES (dmesg_restrict), or no native access
            return Optional.empty();
        }
        return Optional.of(out);
    }

    /** The message of one /dev/kmsg record: after the first {@code ;}, up to the end of its first line. */
    static String kmsgText(String record) {
        int semi = record.indexOf(';');
        String t = semi < 0 ? record : record.substring(semi + 1);
        int nl = t.indexOf('\n');
        return nl < 0 ? t : t.substring(0, nl);
    }
}

package dev.jvmm.probe;

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
 * Read-only access to a host's sysfs, procfs and /dev under configurable {@link Roots}. Every reader returns an
 * empty value for a missing file, so a check can tell "absent" from "present"; a file that exists but cannot be
 * read is reported through {@link #readError(Path)}.
 */
public final class HostView {
    private final Roots roots;

    public HostView(Roots roots) {
        this.roots = roots;
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
}

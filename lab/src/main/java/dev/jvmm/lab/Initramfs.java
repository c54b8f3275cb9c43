package dev.jvmm.lab;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a busybox-static initramfs (gzip'd newc cpio) for a kit kernel: busybox and its applet links, the named
 * modules with their dependencies in insmod order ({@code /etc/insmod.list}, decompressed because busybox insmod
 * reads plain {@code .ko} only), the project's {@code /init} (or another), and extra files.
 *
 * <pre>{@code
 * Path img = Initramfs.forKit(kit).modules("virtio_blk", "ext4").file(kit.helper("kvmtest"), "/bin/kvmtest")
 *         .build(dir.resolve("my-initrd.img"));
 * }</pre>
 */
public final class Initramfs {

    private static final Duration TOOL_TIMEOUT = Duration.ofMinutes(5);

    private final Path modulesRoot;
    private final String release;
    private final List<String> modules = new ArrayList<>();
    private final Map<String, Path> files = new LinkedHashMap<>();
    private final Map<String, String> texts = new LinkedHashMap<>();
    private String init;

    private Initramfs(Path modulesRoot, String release) {
        this.modulesRoot = modulesRoot;
        this.release = release;
    }

    /** A builder for the kit's kernel; {@code /init} is the project's lab init unless {@link #init} replaces it. */
    public static Initramfs forKit(GuestKit.Kit kit) {
        return forKernelTree(kit.modulesRoot(), kit.release());
    }

    /** @param root the directory the kernel .deb was extracted into (it holds {@code lib/modules/RELEASE}) */
    public static Initramfs forKernelTree(Path root, String release) {
        return new Initramfs(root, release);
    }

    /** Adds modules by name (as modprobe knows them: {@code vfio-pci}, {@code kvm_amd}); dependencies come along. */
    public Initramfs modules(String... names) {
        modules.addAll(List.of(names));
        return this;
    }

    public Initramfs modules(List<String> names) {
        modules.addAll(names);
        return this;
    }

    /** Copies a host file into the image at {@code dest} (absolute), keeping its mode. */
    public Initramfs file(Path src, String dest) {
        files.put(dest, src);
        return this;
    }

    /** Writes text into the image at {@code dest}, mode 0755 (scripts). */
    public Initramfs text(String dest, String content) {
        texts.put(dest, content);
        return this;
    }

    /** Replaces the project's {@code /init} with this script. */
    public Initramfs init(String script) {
        this.init = script;
        return this;
    }

    /** The insmod order for the requested modules (paths relative to the kernel tree, as in the .deb). */
    public List<String> insmodOrder() {
        ModuleOrder order = new ModuleOrder();
        for (String m : modules) {
            Proc.Result r = Proc.run(List.of("modprobe", "-d", modulesRoot.toString(), "-S", release, "--show-depends", m),
                    null, TOOL_TIMEOUT);
            if (!r.ok()) {
                throw new LabException(LabException.Reason.KIT_BUILD_FAILED,
                        "module " + m + " not found for kernel " + release + ": " + r.tail());
            }
            List<String> rel = new ArrayList<>();
            for (String f : ModuleOrder.parseShowDepends(r.output())) {
                rel.add(modulesRoot.relativize(Path.of(f)).toString());
            }
            order.add(rel);
        }
        return order.files();
    }

    /** Builds the image at {@code out} (replaced atomically) and returns it. */
    public Path build(Path out) {
        Path stage = null;
        try {
            Files.createDirectories(out.toAbsolutePath().getParent());
            stage = Files.createTempDirectory(out.toAbsolutePath().getParent(), ".initramfs-");
            for (String d : List.of("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "mnt",
                    "root", "run", "lib/modules/" + release)) {
                Files.createDirectories(stage.resolve(d));
            }
            Path busybox = Path.of("/bin/busybox");
            Files.copy(busybox, stage.resolve("bin/busybox"), StandardCopyOption.COPY_ATTRIBUTES);
            Proc.Result list = Proc.check(LabException.Reason.KIT_BUILD_FAILED, List.of("/bin/busybox", "--list-full"),
                    null, TOOL_TIMEOUT);
            for (String applet : list.output().split("\n")) {
                applet = applet.strip();
                // "busybox" itself is in the list: a link over the binary would make /init fail with ELOOP.
                if (applet.isEmpty() || applet.endsWith("/busybox")) {
                    continue;
                }
                Path link = stage.resolve(applet);
                Files.createDirectories(link.getParent());
                if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.createSymbolicLink(link, Path.of("/bin/busybox"));
                }
            }
            List<String> insmod = new ArrayList<>();
            List<String> xz = new ArrayList<>();
            List<String> zst = new ArrayList<>();
            for (String rel : insmodOrder()) {
                Path dst = stage.resolve(rel);
                Files.createDirectories(dst.getParent());
                Files.copy(modulesRoot.resolve(rel), dst, StandardCopyOption.REPLACE_EXISTING);
                if (rel.endsWith(".xz")) {
                    xz.add(dst.toString());
                } else if (rel.endsWith(".zst")) {
                    zst.add(dst.toString());
                }
                insmod.add("/" + ModuleOrder.uncompressedName(rel));
            }
            decompress(List.of("xz", "-d", "-f", "-q"), xz);
            decompress(List.of("zstd", "-d", "-q", "-f", "--rm"), zst);
            Files.writeString(stage.resolve("etc/insmod.list"), insmod.isEmpty() ? "" : String.join("\n", insmod) + "\n");
            for (String f : List.of("modules.dep", "modules.alias", "modules.builtin", "modules.order")) {
                Path src = modulesRoot.resolve("lib/modules/" + release + "/" + f);
                if (Files.exists(src)) {
                    Files.copy(src, stage.resolve("lib/modules/" + release + "/" + f));
                }
            }
            writeExec(stage.resolve("init"), init != null ? init : GuestKit.resource("init.sh"));
            for (var e : files.entrySet()) {
                Path dst = stage.resolve(e.getKey().replaceFirst("^/+", ""));
                Files.createDirectories(dst.getParent());
                Files.copy(e.getValue(), dst, StandardCopyOption.COPY_ATTRIBUTES, StandardCopyOption.REPLACE_EXISTING);
            }
            for (var e : texts.entrySet()) {
                writeExec(stage.resolve(e.getKey().replaceFirst("^/+", "")), e.getValue());
            }
            Path tmpOut = out.resolveSibling(out.getFileName() + ".tmp");
            Proc.check(LabException.Reason.KIT_BUILD_FAILED, List.of("sh", "-c",
                    "find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 > '" + tmpOut + "'"),
                    stage, TOOL_TIMEOUT);
            Files.move(tmpOut, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return out;
        } catch (IOException e) {
            throw new LabException(LabException.Reason.KIT_BUILD_FAILED, "building initramfs " + out + " failed", e);
        } finally {
            if (stage != null) {
                deleteTree(stage);
            }
        }
    }

    private static void decompress(List<String> tool, List<String> paths) {
        if (paths.isEmpty()) {
            return;
        }
        List<String> cmd = new ArrayList<>(tool);
        cmd.addAll(paths);
        Proc.check(LabException.Reason.KIT_BUILD_FAILED, cmd, null, TOOL_TIMEOUT);
    }

    private static void writeExec(Path p, String content) throws IOException {
        Files.createDirectories(p.getParent());
        Files.writeString(p, content, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var s = Files.walk(root)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // best effort: a leftover temp dir is harmless
        }
    }

    static byte[] readAll(InputStream in) throws IOException {
        try (in) {
            return in.readAllBytes();
        }
    }
}

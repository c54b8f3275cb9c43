package dev.jvmm.lab;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The guest kit: a stock Debian kernel (taken through apt, nothing else), its modules (depmod'ed), two busybox
 * initramfs images with the project's {@code /init}, and small static helper programs. Cached per kernel release
 * under {@code LABDIR/kit/RELEASE/}; a kit is rebuilt when the kit's own sources (init, helpers, module lists)
 * change.
 *
 * <pre>
 * kit/6.12.117+deb12-amd64/
 *   vmlinuz              the kernel (bzImage)
 *   initrd-l1.img        the emulated host's initramfs (9p, kvm_amd, vfio, igb, nvme, tun, ...)
 *   initrd-guest.img     a small guest initramfs (virtio blk/net, ext4, nvme, igbvf); runs JVMM_SCRIPT
 *   bin/kvmtest, bin/vfiotest, bin/nvme-virtmgmt, bin/nvme-nsattach, bin/tcpxfer, bin/udpseq   static helpers (gcc -static)
 *   root/                the extracted .deb (root/lib/modules/RELEASE, depmod'ed)
 *   kit.properties       stamp: package, release, source hash
 * </pre>
 */
public final class GuestKit {

    private static final Logger log = LoggerFactory.getLogger(GuestKit.class);

    /** Modules the emulated host loads at boot (with their dependencies). */
    public static final List<String> L1_MODULES = List.of("virtio_pci", "9pnet_virtio", "9p", "virtio_blk", "ext4",
            "kvm_amd", "vfio-pci", "vfio_iommu_type1", "igb", "igbvf", "e1000e", "nvme", "tun", "vhost_net", "virtio_net",
            // q35's SATA controller (00:1f.2) on its host driver: its IOMMU group (the ICH9 functions) is then not
            // viable, as on real hosts, and the tests check that jvmm says so
            "ahci",
            // virtio-net backends jvmm makes: a TAP in a bridge, a macvtap on the igb PF
            "bridge", "macvtap",
            // the host end of the guests' virtio-vsock devices
            "vhost_vsock");
    /** Modules of the small guest image. */
    public static final List<String> GUEST_MODULES = List.of("virtio_pci", "virtio_mmio", "virtio_blk", "virtio_net",
            "ext4", "nvme", "igb", "igbvf", "e1000e", "pvpanic-mmio",
            // the ACPI power button as an input event (vm.shutdown), and virtio-net failover (net_failover bonds a
            // STANDBY virtio-net with the VF of the same MAC)
            "button", "evdev", "net_failover",
            // the rest of the virtio family (virtio_console is built into Debian's kernel)
            "virtio_rng", "virtio_balloon", "vmw_vsock_virtio_transport");
    /** Static helper programs compiled from this module's resources. */
    public static final List<String> HELPERS = List.of("kvmtest", "vfiotest", "nvme-virtmgmt", "nvme-nsattach", "tcpxfer", "udpseq");

    /** Bump when the kit layout changes. */
    private static final String KIT_FORMAT = "1";
    private static final Duration TOOL_TIMEOUT = Duration.ofMinutes(10);

    /** A built kit. All paths are absolute and the same inside L1 (the host root is shared read-only). */
    public record Kit(String packageName, String release, Path dir) {
        public Path kernel() {
            return dir.resolve("vmlinuz");
        }

        public Path initrdL1() {
            return dir.resolve("initrd-l1.img");
        }

        public Path initrdGuest() {
            return dir.resolve("initrd-guest.img");
        }

        /** The extracted package: {@code modulesRoot()/lib/modules/release()}. Give it to {@link Initramfs}. */
        public Path modulesRoot() {
            return dir.resolve("root");
        }

        public Path helper(String name) {
            return dir.resolve("bin").resolve(name);
        }
    }

    private GuestKit() {
    }

    /** Returns the kit for the newest kernel package, building it when it is not cached. */
    public static Kit ensure(LabConfig cfg) {
        return ensure(cfg, msg -> log.info("{}", msg));
    }

    /**
     * The kit for the chosen kernel: the shared cache's when it is current, else this user's own when that is
     * current, else built where this user may write (the shared cache, or this user's own when the shared one is
     * another user's). A kit built in the shared cache is made readable by every user.
     */
    public static Kit ensure(LabConfig cfg, Consumer<String> progress) {
        HostPrereqs.requireForKit();
        KernelPackages.Candidate pkg = chooseKernel(cfg);
        String hash = sourceHash();
        Kit shared = new Kit(pkg.packageName(), pkg.release(), cfg.kitRoot().resolve(pkg.release()));
        if (isCurrent(shared, hash)) {
            return shared;
        }
        Kit own = new Kit(pkg.packageName(), pkg.release(), cfg.userKitRoot().resolve(pkg.release()));
        if (isCurrent(own, hash)) {
            return own;
        }
        Path kitRoot = cfg.kitRoot();
        if (!mayCreate(kitRoot)) {
            progress.accept("kit: the shared cache " + kitRoot + " has no current kit and is not writable by "
                    + System.getProperty("user.name") + "; building this user's own in " + cfg.userKitRoot());
            kitRoot = cfg.userKitRoot();
        }
        Kit kit = kitRoot.equals(cfg.kitRoot()) ? shared : own;
        try {
            Files.createDirectories(kitRoot);
            try (FileChannel ch = FileChannel.open(kitRoot.resolve(".lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE); FileLock ignored = ch.lock()) {
                if (isCurrent(kit, hash)) {
                    return kit; // another process built it while we waited
                }
                build(pkg, kit, hash, progress);
                if (kit == shared) {
                    readableByAll(kit.dir(), Integer.MAX_VALUE);
                    readableByAll(kitRoot.resolveSibling("debs"), Integer.MAX_VALUE);
                    readableByAll(kitRoot, 0);
                    readableByAll(kitRoot.getParent(), 0);
                }
                return kit;
            }
        } catch (IOException e) {
            throw new LabException(LabException.Reason.KIT_BUILD_FAILED, "cannot build the guest kit in " + kit.dir(), e);
        }
    }

    /** Whether this user can create {@code dir} or write into it (the nearest existing ancestor decides). */
    static boolean mayCreate(Path dir) {
        for (Path p = dir.toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.exists(p)) {
                return Files.isDirectory(p) && Files.isWritable(p);
            }
        }
        return false;
    }

    /**
     * Adds read permission for group and others to {@code top} and what lies under it down to {@code depth} (and
     * search permission to directories and to what its owner may execute): the kit is shared by every user of the
     * machine, whatever umask the user who built it had.
     */
    static void readableByAll(Path top, int depth) throws IOException {
        try (var s = Files.walk(top, depth)) {
            for (Path p : s.toList()) {
                if (Files.isSymbolicLink(p)) {
                    continue;
                }
                var perms = java.util.EnumSet.copyOf(Files.getPosixFilePermissions(p));
                boolean changed = perms.addAll(List.of(PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ));
                if (Files.isDirectory(p) || perms.contains(PosixFilePermission.OWNER_EXECUTE)) {
                    changed |= perms.addAll(List.of(PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_EXECUTE));
                }
                if (changed) {
                    Files.setPosixFilePermissions(p, perms);
                }
            }
        }
    }

    /** The kernel package to use: {@code JVMM_LAB_KERNEL}, else the newest (in {@code JVMM_LAB_KERNEL_SERIES}). */
    public static KernelPackages.Candidate chooseKernel(LabConfig cfg) {
        Proc.Result r = Proc.run(List.of("apt-cache", "search", "--names-only", "^linux-image-[0-9]"), null,
                Duration.ofMinutes(2));
        List<KernelPackages.Candidate> all = r.ok() ? KernelPackages.parse(r.output()) : List.of();
        if (cfg.kernelPackage() != null) {
            return all.stream().filter(c -> c.packageName().equals(cfg.kernelPackage())).findFirst()
                    .orElseThrow(() -> new LabException(LabException.Reason.KIT_BUILD_FAILED,
                            "JVMM_LAB_KERNEL=" + cfg.kernelPackage() + " is not a generic amd64 kernel package apt knows;"
                                    + " list them with: apt-cache search --names-only '^linux-image-[0-9].*-amd64'"));
        }
        Optional<KernelPackages.Candidate> c = KernelPackages.newest(all, cfg.kernelSeries());
        if (c.isPresent()) {
            return c.get();
        }
        Optional<Kit> cached = newestCachedKit(cfg);
        if (cached.isPresent()) {
            log.warn("apt knows no linux-image-*-amd64 package; using the cached kit {}", cached.get().release());
            return new KernelPackages.Candidate(cached.get().packageName(),
                    cached.get().release().replaceFirst("-amd64$", ""), true);
        }
        throw new LabException(LabException.Reason.MISSING_PREREQUISITE,
                "apt knows no linux-image-*-amd64 kernel package" + (cfg.kernelSeries() != null ? " in series "
                        + cfg.kernelSeries() : "") + "; fix: apt-get update (or: jvmm lab setup)");
    }

    private static Optional<Kit> newestCachedKit(LabConfig cfg) {
        if (!Files.isDirectory(cfg.kitRoot())) {
            return Optional.empty();
        }
        try (var s = Files.list(cfg.kitRoot())) {
            return s.filter(p -> Files.exists(p.resolve("kit.properties")))
                    .map(p -> {
                        Properties pr = load(p.resolve("kit.properties"));
                        return new Kit(pr.getProperty("package", "?"), p.getFileName().toString(), p);
                    })
                    .max((a, b) -> KernelPackages.compareVersions(a.release(), b.release()));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    static boolean isCurrent(Kit kit, String hash) {
        Path stamp = kit.dir().resolve("kit.properties");
        if (!Files.exists(stamp)) {
            return false;
        }
        Properties p = load(stamp);
        return hash.equals(p.getProperty("sourceHash")) && Files.exists(kit.kernel()) && Files.exists(kit.initrdL1())
                && Files.exists(kit.initrdGuest());
    }

    private static void build(KernelPackages.Candidate pkg, Kit kit, String hash, Consumer<String> progress)
            throws IOException {
        long t0 = System.nanoTime();
        Path dir = kit.dir();
        Path root = kit.modulesRoot();
        Path debs = dir.getParent().resolveSibling("debs");
        Files.createDirectories(debs);
        Path deb = findDeb(debs, pkg.packageName());
        if (deb == null) {
            progress.accept("kit: apt-get download " + pkg.packageName());
            Proc.check(LabException.Reason.KIT_BUILD_FAILED, List.of("apt-get", "download", pkg.packageName()), debs,
                    TOOL_TIMEOUT);
            deb = findDeb(debs, pkg.packageName());
            if (deb == null) {
                throw new LabException(LabException.Reason.KIT_BUILD_FAILED,
                        "apt-get download " + pkg.packageName() + " left no .deb in " + debs);
            }
        }
        if (!Files.isDirectory(root.resolve("lib/modules/" + kit.release()))) {
            progress.accept("kit: extracting " + deb.getFileName());
            Path tmp = dir.resolveSibling(dir.getFileName() + ".extract");
            Initramfs.deleteTree(tmp);
            Files.createDirectories(tmp);
            Proc.check(LabException.Reason.KIT_BUILD_FAILED, List.of("dpkg-deb", "-x", deb.toString(), tmp.toString()),
                    null, TOOL_TIMEOUT);
            Proc.check(LabException.Reason.KIT_BUILD_FAILED,
                    List.of("depmod", "-b", tmp.toString(), kit.release()), null, TOOL_TIMEOUT);
            Files.createDirectories(dir);
            Initramfs.deleteTree(root);
            Files.move(tmp, root);
        }
        Files.createDirectories(dir);
        Path vmlinuz = root.resolve("boot/vmlinuz-" + kit.release());
        if (!Files.exists(vmlinuz)) {
            throw new LabException(LabException.Reason.KIT_BUILD_FAILED, pkg.packageName() + " has no " + vmlinuz);
        }
        Files.copy(vmlinuz, kit.kernel(), StandardCopyOption.REPLACE_EXISTING);
        progress.accept("kit: compiling helpers " + HELPERS);
        Path bin = dir.resolve("bin");
        Path src = dir.resolve("src");
        Files.createDirectories(bin);
        Files.createDirectories(src);
        for (String h : HELPERS) {
            Path c = src.resolve(h + ".c");
            Files.writeString(c, resource(h + ".c"));
            Proc.check(LabException.Reason.KIT_BUILD_FAILED,
                    List.of("gcc", "-static", "-O2", "-Wall", "-o", bin.resolve(h).toString(), c.toString()), null,
                    TOOL_TIMEOUT);
        }
        progress.accept("kit: initramfs images");
        Initramfs.forKernelTree(root, kit.release()).modules(L1_MODULES).build(kit.initrdL1());
        Initramfs guest = Initramfs.forKernelTree(root, kit.release()).modules(GUEST_MODULES);
        for (String h : HELPERS) {
            guest.file(bin.resolve(h), "/bin/" + h);
        }
        guest.build(kit.initrdGuest());
        Properties p = new Properties();
        p.setProperty("package", pkg.packageName());
        p.setProperty("release", kit.release());
        p.setProperty("sourceHash", hash);
        p.setProperty("buildSeconds", String.format("%.1f", (System.nanoTime() - t0) / 1e9));
        try (var out = Files.newOutputStream(dir.resolve("kit.properties"))) {
            p.store(out, "jvmm lab guest kit");
        }
        progress.accept(String.format("kit: built %s in %.1f s", dir, (System.nanoTime() - t0) / 1e9));
    }

    private static Path findDeb(Path debs, String packageName) throws IOException {
        try (var s = Files.list(debs)) {
            return s.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith(packageName + "_") && n.endsWith(".deb");
            }).max(Path::compareTo).orElse(null);
        }
    }

    /** The text of a resource of this package ({@code init.sh}, {@code kvmtest.c}, ...). */
    public static String resource(String name) {
        try (InputStream in = GuestKit.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new LabException(LabException.Reason.KIT_BUILD_FAILED, "resource " + name + " missing from jvmm-lab");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new LabException(LabException.Reason.KIT_BUILD_FAILED, "cannot read resource " + name, e);
        }
    }

    static String sourceHash() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(KIT_FORMAT.getBytes(StandardCharsets.UTF_8));
            md.update(String.join(",", L1_MODULES).getBytes(StandardCharsets.UTF_8));
            md.update(String.join(",", GUEST_MODULES).getBytes(StandardCharsets.UTF_8));
            md.update(resource("init.sh").getBytes(StandardCharsets.UTF_8));
            for (String h : HELPERS) {
                md.update(resource(h + ".c").getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Properties load(Path f) {
        Properties p = new Properties();
        try (var in = Files.newInputStream(f)) {
            p.load(in);
        } catch (IOException e) {
            // an unreadable stamp means "rebuild"
        }
        return p;
    }
}

package dev.jvmm.sys.pci;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A fake sysfs tree laid out (links and all) as the kernel lays out /sys, with a fake kernel behind {@link #sysfs}
 * that reacts to writes the way the real one does: {@code driver_override} ({@code "\n"} clears it to
 * {@code (null)}), {@code drivers/X/unbind} and {@code drivers_probe} (the override if set, else the device's host
 * driver); an unbind takes the device's network interfaces away. Errors can be injected per write ({@link #failWrite}, {@link #failOnce}). Modules with more kernel to
 * fake (SR-IOV's sriov_numvfs) extend it through the protected hooks.
 */
public class FakePciHost {
    /** The fake {@code /sys}. */
    public final Path root;
    /** Every write, as {@code bus/pci/drivers_probe <- 0000:01:00.0}. */
    public final List<String> writes = new ArrayList<>();
    /** A write whose text contains the key fails with that errno, every time. */
    public final Map<String, Integer> failWrite = new HashMap<>();
    /** Like failWrite, but each entry fires once (a transient fault: a rollback's own writes then succeed). */
    public final Map<String, Integer> failOnce = new HashMap<>();
    /**
     * When positive, the change with this number (1-based, counted in {@link #changes}: sysfs writes, and what
     * subclasses count) throws {@link Died} before it takes effect: the writing process "is killed" there, and since
     * {@code Died} is an {@link Error}, no {@code catch (RuntimeException)} rollback runs.
     */
    public int dieAtChange;
    /** The changes made so far (see {@link #dieAtChange}). */
    public int changes;

    /** The fake SIGKILL of {@link #dieAtChange}. */
    public static final class Died extends Error {
        public Died(String at) {
            super("killed at change " + at);
        }
    }

    /** Counts a change; throws {@link Died} at {@link #dieAtChange}. */
    protected void change(String what) {
        changes++;
        if (changes == dieAtChange) {
            throw new Died(changes + ": " + what);
        }
    }

    /** The fake sysfs: reads see the tree, writes go to the fake kernel. */
    public final Sysfs sysfs;
    private final Map<String, String> hostDrivers = new HashMap<>();

    public FakePciHost(Path root) {
        this.root = root;
        this.sysfs = new Sysfs(root) {
            @Override
            protected void writeNow(Path p, String value) {
                kernelWrite(p, value);
            }
        };
        mkdirs(root.resolve("bus/pci/devices"));
        mkdirs(root.resolve("kernel/iommu_groups"));
        put(root.resolve("bus/pci/drivers_probe"), "");
    }

    public Path devices() {
        return root.resolve("bus/pci/devices");
    }

    public Path drivers() {
        return root.resolve("bus/pci/drivers");
    }

    /** The device's directory through its bus link ({@code bus/pci/devices/BDF}). */
    public Path dev(String bdf) {
        return devices().resolve(bdf);
    }

    /** Loads a driver: {@code bus/pci/drivers/NAME} with its {@code unbind} file. */
    public FakePciHost driver(String name) {
        Path d = mkdirs(drivers().resolve(name));
        put(d.resolve("unbind"), "");
        return this;
    }

    /**
     * A PCI function at {@code devices/pci0000:00/BDF} (below {@code parent}'s directory when given), linked from
     * {@code bus/pci/devices}, with vendor, device, class, numa_node, driver_override {@code (null)} and, when
     * {@code driver} is not null, bound to it (loaded if need be), which is also the driver drivers_probe gives it.
     */
    public FakePciHost device(String bdf, String vendor, String device, String cls, String driver, String parent) {
        Path real = parent == null ? root.resolve("devices/pci0000:00").resolve(bdf)
                : realDir(parent).resolve(bdf);
        mkdirs(real);
        put(real.resolve("vendor"), "0x" + vendor);
        put(real.resolve("device"), "0x" + device);
        put(real.resolve("class"), "0x" + cls);
        put(real.resolve("numa_node"), "-1");
        put(real.resolve("driver_override"), "(null)");
        link(dev(bdf), real);
        if (driver != null) {
            hostDrivers.put(bdf, driver);
            if (!Files.isDirectory(drivers().resolve(driver))) {
                driver(driver);
            }
            bindNow(dev(bdf), driver);
        }
        return this;
    }

    /** {@link #device} on the root bus. */
    public FakePciHost device(String bdf, String vendor, String device, String cls, String driver) {
        return device(bdf, vendor, device, cls, driver, null);
    }

    /** Removes a function (as when its VFs go away): its netdevs, group membership, directory and bus link. */
    public void removeDevice(String bdf) {
        Path real = realDir(bdf);
        removeNetdevs(real);
        String group = sysfs.linkName(real.resolve("iommu_group"));
        if (group != null) {
            delete(root.resolve("kernel/iommu_groups").resolve(group).resolve("devices").resolve(bdf));
        }
        try {
            Files.delete(dev(bdf));
            try (Stream<Path> s = Files.walk(real)) {
                for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(x);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The real directory of a device (below {@code devices/}). */
    public Path realDir(String bdf) {
        try {
            return dev(bdf).toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Puts devices into IOMMU group {@code id} (links both ways, like the kernel), with a {@code type} of DMA. */
    public FakePciHost group(int id, String... bdfs) {
        Path g = mkdirs(root.resolve("kernel/iommu_groups").resolve(Integer.toString(id)).resolve("devices"));
        put(g.getParent().resolve("type"), "DMA");
        for (String b : bdfs) {
            link(g.resolve(b), realDir(b));
            link(realDir(b).resolve("iommu_group"), g.getParent());
        }
        return this;
    }

    /** A network interface of a device ({@code net/IF/operstate}) and its {@code class/net/IF/device} link. */
    public FakePciHost netdev(String bdf, String ifname, String operstate) {
        Path n = mkdirs(dev(bdf).resolve("net").resolve(ifname));
        put(n.resolve("operstate"), operstate);
        Path cn = mkdirs(root.resolve("class/net").resolve(ifname));
        link(cn.resolve("device"), realDir(bdf));
        return this;
    }

    /** Writes a sysfs attribute of a device (test set-up, not a kernel write). */
    public FakePciHost attr(String bdf, String name, String value) {
        put(dev(bdf).resolve(name), value);
        return this;
    }

    /** The driver a device is bound to now, or null. */
    public String driverOf(String bdf) {
        return sysfs.linkName(dev(bdf).resolve("driver"));
    }

    /** {@code driver_override} as the kernel shows it ({@code (null)} when unset). */
    public String overrideOf(String bdf) {
        return sysfs.read(dev(bdf).resolve("driver_override"));
    }

    /** A network driver's interfaces go away with it: {@code net/*} and their {@code class/net} entries. */
    public void removeNetdevs(Path dev) {
        Path net = dev.resolve("net");
        if (!Files.isDirectory(net)) {
            return;
        }
        try (Stream<Path> s = Files.list(net)) {
            for (Path n : s.toList()) {
                String ifname = n.getFileName().toString();
                try (Stream<Path> w = Files.walk(n)) {
                    for (Path x : w.sorted(Comparator.reverseOrder()).toList()) {
                        Files.delete(x);
                    }
                }
                Path cn = root.resolve("class/net").resolve(ifname);
                delete(cn.resolve("device"));
                delete(cn);
            }
            Files.delete(net);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The driver {@code drivers_probe} binds when no override is set; null when no host driver matches. */
    protected String hostDriver(Path dev) {
        return hostDrivers.get(dev.getFileName().toString());
    }

    /** Called after a driver is bound (an SR-IOV fake makes a VF's netdev appear). */
    protected void bound(Path dev, String driver) {
    }

    /** Called after a driver is unbound. */
    protected void unbound(Path dev) {
    }

    /** A write to a file this fake kernel does not know; false makes it fail with EACCES. */
    protected boolean otherWrite(Path p, String value) {
        return false;
    }

    /** Binds as the kernel's probe does: the {@code driver} link, then {@link #bound}. */
    protected void bindNow(Path dev, String driver) {
        link(dev.resolve("driver"), drivers().resolve(driver));
        bound(dev, driver);
    }

    /** The fake kernel's reaction to a sysfs write. */
    private void kernelWrite(Path p, String value) {
        String rel = root.relativize(p).toString();
        String w = rel + " <- " + value.trim();
        change(w);
        writes.add(w);
        for (var f : failOnce.entrySet()) {
            if (w.contains(f.getKey())) {
                failOnce.remove(f.getKey());
                throw new ErrnoException("write", f.getValue(), p + " <- '" + value.trim() + "'");
            }
        }
        for (var f : failWrite.entrySet()) {
            if (w.contains(f.getKey())) {
                throw new ErrnoException("write", f.getValue(), p + " <- '" + value.trim() + "'");
            }
        }
        String name = p.getFileName().toString();
        if (name.equals("driver_override")) {
            put(p, value.trim().isEmpty() ? "(null)" : value.trim());
        } else if (name.equals("unbind") && p.getParent().getParent().equals(drivers())) {
            Path d = dev(value.trim());
            String cur = sysfs.linkName(d.resolve("driver"));
            if (!p.getParent().getFileName().toString().equals(cur)) {
                throw new ErrnoException("write", Errno.ENODEV, p + " <- '" + value.trim() + "'");
            }
            delete(d.resolve("driver"));
            removeNetdevs(d);
            unbound(d);
        } else if (p.equals(root.resolve("bus/pci/drivers_probe"))) {
            Path d = dev(value.trim());
            if (!Files.exists(d.resolve("driver"), LinkOption.NOFOLLOW_LINKS)) {
                String ovr = sysfs.read(d.resolve("driver_override"));
                String drv = ovr == null || ovr.equals("(null)") ? hostDriver(d) : ovr;
                if (drv != null && Files.isDirectory(drivers().resolve(drv))) {
                    bindNow(d, drv);
                }
            }
        } else if (!otherWrite(p, value)) {
            throw new ErrnoException("write", Errno.EACCES, p.toString());
        }
    }

    /** Writes {@code value} and a newline, as sysfs shows attributes. */
    public static void put(Path p, String value) {
        try {
            Files.writeString(p, value + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Path mkdirs(Path p) {
        try {
            return Files.createDirectories(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A relative symlink {@code at -> target}, replacing what was there. */
    public static void link(Path at, Path target) {
        try {
            mkdirs(at.getParent());
            Files.deleteIfExists(at);
            Files.createSymbolicLink(at, at.getParent().toRealPath().relativize(target.toRealPath()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void delete(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

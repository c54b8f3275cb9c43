package dev.jvmm.sriov;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.netlink.Link;
import dev.jvmm.sys.netlink.Macs;
import dev.jvmm.sys.netlink.VfAttribute;
import dev.jvmm.sys.netlink.VfInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A fake sysfs tree plus a fake kernel that reacts to writes the way the real one does (numvfs only 0 -> N or
 * N -> 0, autoprobe, driver_override/unbind/drivers_probe) and a fake PF driver behind rtnetlink modelled on igb
 * (802.1ad refused with EPROTONOSUPPORT, min TX rate refused with EINVAL, VF table reset when VFs go away).
 * Used IN ADDITION to the lab tests on the real igb and NVMe PFs.
 */
final class FakeHost {
    static final int EPROTONOSUPPORT = 93;
    static final int ERANGE = 34;
    final Path root;
    final List<String> writes = new ArrayList<>();
    final List<String> netlinkSets = new ArrayList<>();
    final Map<String, Integer> failWrite = new HashMap<>();
    /** Like failWrite, but each entry fires once (a transient fault: the rollback's own writes then succeed). */
    final Map<String, Integer> failOnce = new HashMap<>();
    final Map<String, TreeMap<Integer, VfInfo>> vfTables = new HashMap<>();
    final Sysfs sysfs;
    final VfNetlink netlink;
    private int nextIf = 10;

    FakeHost(Path root) throws IOException {
        this.root = root;
        for (String d : List.of("igb", "igbvf", "nvme", "vfio-pci")) {
            Files.createDirectories(drivers().resolve(d));
            Files.writeString(drivers().resolve(d).resolve("unbind"), "");
        }
        Files.writeString(root.resolve("bus/pci/drivers_probe"), "");
        pf("0000:01:00.0", "0x8086", "0x10c9", "igb", 7, "enp1s0", 5);
        pf("0000:02:00.0", "0x1b36", "0x0010", "nvme", 3, null, 6);
        // a plain device without SR-IOV
        Path plain = devices().resolve("0000:00:03.0");
        Files.createDirectories(plain);
        Files.writeString(plain.resolve("vendor"), "0x1af4\n");
        sysfs = new Sysfs(root) {
            @Override
            protected void writeNow(Path p, String value) {
                kernelWrite(p, value);
            }
        };
        netlink = new VfNetlink() {
            @Override
            public Link pf(String ifname) {
                TreeMap<Integer, VfInfo> t = vfTables.get(ifname);
                if (t == null) {
                    throw new ErrnoException("RTM_GETLINK", Errno.ENODEV, "dev " + ifname);
                }
                return new Link(2, 1, 0, ifname, 1500, "52:54:00:00:01:00", t.size(), List.copyOf(t.values()));
            }

            @Override
            public void set(Link pf, VfAttribute a) {
                netlinkSets.add(pf.name() + " " + a.kernelName() + " vf " + a.vf() + " " + a.describe());
                TreeMap<Integer, VfInfo> t = vfTables.get(pf.name());
                VfInfo v = t.get(a.vf());
                if (v == null) {
                    throw new ErrnoException("RTM_SETLINK", Errno.EINVAL, "vf " + a.vf());
                }
                VfInfo n;
                if (a instanceof VfAttribute.Mac m) {
                    n = new VfInfo(v.vf(), Macs.format(m.mac()), v.vlan(), v.qos(), v.vlanProto(), v.minTxRate(),
                            v.maxTxRate(), v.spoofchk(), v.trust(), v.linkState(), v.rssQueryEn());
                } else if (a instanceof VfAttribute.Vlan vl) {
                    if (vl.proto() != 0x8100) {
                        throw new ErrnoException("RTM_SETLINK", EPROTONOSUPPORT, "igb: only 802.1Q");
                    }
                    n = new VfInfo(v.vf(), v.mac(), vl.vlan(), vl.qos(), 0x8100, v.minTxRate(), v.maxTxRate(), v.spoofchk(),
                            v.trust(), v.linkState(), v.rssQueryEn());
                } else if (a instanceof VfAttribute.Rate r) {
                    if (r.minTxRate() != 0) {
                        throw new ErrnoException("RTM_SETLINK", Errno.EINVAL, "igb: no min rate");
                    }
                    n = new VfInfo(v.vf(), v.mac(), v.vlan(), v.qos(), v.vlanProto(), 0, r.maxTxRate(), v.spoofchk(),
                            v.trust(), v.linkState(), v.rssQueryEn());
                } else if (a instanceof VfAttribute.Spoofchk sp) {
                    n = new VfInfo(v.vf(), v.mac(), v.vlan(), v.qos(), v.vlanProto(), v.minTxRate(),
                            v.maxTxRate(), sp.on(), v.trust(), v.linkState(), v.rssQueryEn());
                } else if (a instanceof VfAttribute.Trust tr) {
                    n = new VfInfo(v.vf(), v.mac(), v.vlan(), v.qos(), v.vlanProto(), v.minTxRate(),
                            v.maxTxRate(), v.spoofchk(), tr.on(), v.linkState(), v.rssQueryEn());
                } else {
                    throw new ErrnoException("RTM_SETLINK", Errno.EOPNOTSUPP, "igb: no link state");
                }
                t.put(a.vf(), n);
            }

            @Override
            public void close() {
            }
        };
    }

    Path devices() {
        return root.resolve("bus/pci/devices");
    }

    Path drivers() {
        return root.resolve("bus/pci/drivers");
    }

    private void pf(String bdf, String vendor, String device, String driver, int total, String ifname, int group) throws IOException {
        Path d = devices().resolve(bdf);
        Files.createDirectories(d);
        Files.writeString(d.resolve("vendor"), vendor + "\n");
        Files.writeString(d.resolve("device"), device + "\n");
        Files.writeString(d.resolve("sriov_totalvfs"), total + "\n");
        Files.writeString(d.resolve("sriov_numvfs"), "0\n");
        Files.writeString(d.resolve("sriov_drivers_autoprobe"), "1\n");
        Files.writeString(d.resolve("driver_override"), "(null)\n");
        group(d, group);
        Files.createSymbolicLink(d.resolve("driver"), drivers().resolve(driver));
        if (ifname != null) {
            Files.createDirectories(d.resolve("net").resolve(ifname));
            Path cn = root.resolve("class/net").resolve(ifname);
            Files.createDirectories(cn);
            Files.createSymbolicLink(cn.resolve("device"), d);
            vfTables.put(ifname, new TreeMap<>());
        }
    }

    private void group(Path d, int group) throws IOException {
        Path g = root.resolve("kernel/iommu_groups").resolve(Integer.toString(group));
        Files.createDirectories(g);
        Files.createSymbolicLink(d.resolve("iommu_group"), g);
    }

    static String vfBdf(String pf, int i) {
        PciAddress a = PciAddress.parse(pf);
        if (a.bus() == 1) { // igb: VFs at 01:10.0, 01:10.2, ... (VF stride 2)
            int f = 2 * i;
            return new PciAddress(0, 1, 0x10 + f / 8, f % 8).toString();
        }
        return new PciAddress(0, a.bus(), 0, i + 1).toString();
    }

    private String read(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void put(Path p, String v) {
        try {
            Files.writeString(p, v + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The fake kernel's reaction to a sysfs write. */
    private void kernelWrite(Path p, String value) {
        String rel = root.relativize(p).toString();
        writes.add(rel + " <- " + value.trim());
        for (var f : failOnce.entrySet()) {
            if ((rel + " <- " + value.trim()).contains(f.getKey())) {
                failOnce.remove(f.getKey());
                throw new ErrnoException("write", f.getValue(), p + " <- '" + value.trim() + "'");
            }
        }
        for (var f : failWrite.entrySet()) {
            if ((rel + " <- " + value.trim()).contains(f.getKey())) {
                throw new ErrnoException("write", f.getValue(), p + " <- '" + value.trim() + "'");
            }
        }
        try {
            String name = p.getFileName().toString();
            if (name.equals("sriov_numvfs")) {
                numvfs(p.getParent(), Integer.parseInt(value.trim()));
            } else if (name.equals("sriov_drivers_autoprobe") || name.equals("driver_override")) {
                put(p, value.trim().isEmpty() ? "(null)" : value.trim());
            } else if (name.equals("unbind")) {
                Path d = devices().resolve(value.trim());
                Files.deleteIfExists(d.resolve("driver"));
                deleteNet(d);
            } else if (name.equals("drivers_probe")) {
                Path d = devices().resolve(value.trim());
                if (!Files.exists(d.resolve("driver"), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    String ovr = read(d.resolve("driver_override"));
                    String drv = ovr.equals("(null)") ? defaultDriver(d) : ovr;
                    if (drv != null && Files.isDirectory(drivers().resolve(drv))) {
                        bindDriver(d, drv);
                    }
                }
            } else {
                throw new ErrnoException("write", Errno.EACCES, p.toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private String defaultDriver(Path vf) throws IOException {
        Path phys = vf.resolve("physfn");
        if (!Files.exists(phys)) {
            return null;
        }
        String pfDriver = Files.readSymbolicLink(phys.toRealPath().resolve("driver")).getFileName().toString();
        return pfDriver.equals("igb") ? "igbvf" : pfDriver;
    }

    private void bindDriver(Path d, String drv) throws IOException {
        Files.createSymbolicLink(d.resolve("driver"), drivers().resolve(drv));
        if (drv.equals("igbvf")) {
            Files.createDirectories(d.resolve("net").resolve("eth" + nextIf++));
        }
    }

    private void deleteNet(Path d) throws IOException {
        Path net = d.resolve("net");
        if (Files.isDirectory(net)) {
            try (var s = Files.list(net)) {
                for (Path x : s.toList()) {
                    Files.delete(x);
                }
            }
            Files.delete(net);
        }
    }

    private void numvfs(Path pf, int n) throws IOException {
        int cur = Integer.parseInt(read(pf.resolve("sriov_numvfs")));
        int total = Integer.parseInt(read(pf.resolve("sriov_totalvfs")));
        if (n == cur) {
            return;
        }
        if (n > total) {
            throw new ErrnoException("write", ERANGE, pf + "/sriov_numvfs");
        }
        if (n != 0 && cur != 0) {
            throw new ErrnoException("write", Errno.EBUSY, pf + "/sriov_numvfs");
        }
        String pfName = pf.getFileName().toString();
        String ifname = null;
        if (Files.isDirectory(pf.resolve("net"))) {
            try (var s = Files.list(pf.resolve("net"))) {
                ifname = s.findFirst().map(x -> x.getFileName().toString()).orElse(null);
            }
        }
        if (n == 0) {
            for (int i = 0; i < cur; i++) {
                Path vf = devices().resolve(vfBdf(pfName, i));
                deleteNet(vf);
                try (var s = Files.walk(vf)) {
                    for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.delete(x);
                    }
                }
                Files.delete(pf.resolve("virtfn" + i));
            }
            if (ifname != null) {
                vfTables.get(ifname).clear(); // igb forgets VF settings when SR-IOV is disabled
            }
        } else {
            boolean auto = !read(pf.resolve("sriov_drivers_autoprobe")).equals("0");
            for (int i = 0; i < n; i++) {
                Path vf = devices().resolve(vfBdf(pfName, i));
                Files.createDirectories(vf);
                Files.createSymbolicLink(vf.resolve("physfn"), pf);
                Files.writeString(vf.resolve("driver_override"), "(null)\n");
                group(vf, 20 + i + (pfName.startsWith("0000:02") ? 10 : 0));
                Files.createSymbolicLink(pf.resolve("virtfn" + i), vf);
                if (ifname != null) {
                    vfTables.get(ifname).put(i, new VfInfo(i, "00:00:00:00:00:00", 0, 0, 0x8100, 0, 0, true, false, 0, false));
                }
                if (auto) {
                    bindDriver(vf, defaultDriver(vf));
                }
            }
        }
        put(pf.resolve("sriov_numvfs"), Integer.toString(n));
    }

    SriovManager manager() {
        return new SriovManager(sysfs, netlink, false);
    }
}

package dev.jvmm.sriov;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.netlink.Link;
import dev.jvmm.sys.netlink.Macs;
import dev.jvmm.sys.netlink.VfAttribute;
import dev.jvmm.sys.netlink.VfInfo;
import dev.jvmm.sys.pci.FakePciHost;
import dev.jvmm.sys.pci.PciAddress;
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
 * The fake sysfs tree and fake kernel of {@link FakePciHost} (driver_override, unbind, drivers_probe) plus the SR-IOV
 * part of the kernel (numvfs only 0 -> N or N -> 0, autoprobe, VFs with physfn/virtfn links and their own IOMMU
 * groups) and a fake PF driver behind rtnetlink modelled on igb (802.1ad refused with EPROTONOSUPPORT, min TX rate
 * refused with EINVAL, VF table reset when VFs go away). Used IN ADDITION to the lab tests on the real igb and NVMe PFs.
 * Public (in this module's test jar) for the CLI tests in vmm.
 */
public final class FakeHost extends FakePciHost {
    static final int EPROTONOSUPPORT = 93;
    static final int ERANGE = 34;
    /** Every RTM_SETLINK, as {@code enp1s0 IFLA_VF_MAC vf 0 mac=52:54:00:00:00:10}. */
    public final List<String> netlinkSets = new ArrayList<>();
    /** An RTM_SETLINK whose text (as in {@link #netlinkSets}) contains the key fails with that errno, every time. */
    public final Map<String, Integer> failNetlink = new HashMap<>();
    public final Map<String, TreeMap<Integer, VfInfo>> vfTables = new HashMap<>();
    public final VfNetlink netlink;
    private int nextIf = 10;

    public FakeHost(Path root) throws IOException {
        super(root);
        for (String d : List.of("igb", "igbvf", "nvme", "vfio-pci")) {
            driver(d);
        }
        pf("0000:01:00.0", "8086", "10c9", "igb", 7, "enp1s0", 5);
        pf("0000:02:00.0", "1b36", "0010", "nvme", 3, null, 6);
        device("0000:00:03.0", "1af4", "1000", "020000", null); // a plain device without SR-IOV
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
                String w = pf.name() + " " + a.kernelName() + " vf " + a.vf() + " " + a.describe();
                change(w);
                netlinkSets.add(w);
                for (var f : failNetlink.entrySet()) {
                    if (w.contains(f.getKey())) {
                        throw new ErrnoException("RTM_SETLINK", f.getValue(), "dev " + pf.name() + " vf " + a.vf() + " " + a.kernelName());
                    }
                }
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

    private void pf(String bdf, String vendor, String device, String driver, int total, String ifname, int group) {
        device(bdf, vendor, device, ifname == null ? "010802" : "020000", driver).group(group, bdf)
                .attr(bdf, "sriov_totalvfs", Integer.toString(total)).attr(bdf, "sriov_numvfs", "0")
                .attr(bdf, "sriov_drivers_autoprobe", "1");
        if (ifname != null) {
            netdev(bdf, ifname, "up");
            vfTables.put(ifname, new TreeMap<>());
        }
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

    /** A VF gets the PF driver's VF driver (igb: igbvf); a PF has no other host driver than the one it has. */
    @Override
    protected String hostDriver(Path dev) {
        Path phys = dev.resolve("physfn");
        if (!Files.exists(phys)) {
            return super.hostDriver(dev);
        }
        try {
            String pfDriver = Files.readSymbolicLink(phys.toRealPath().resolve("driver")).getFileName().toString();
            return pfDriver.equals("igb") ? "igbvf" : pfDriver;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** igbvf registers a netdev when it binds. */
    @Override
    protected void bound(Path dev, String driver) {
        if (driver.equals("igbvf")) {
            netdev(dev.getFileName().toString(), "eth" + nextIf++, "down");
        }
    }

    @Override
    protected boolean otherWrite(Path p, String value) {
        String name = p.getFileName().toString();
        if (name.equals("sriov_numvfs")) {
            numvfs(p.getParent(), Integer.parseInt(value.trim()));
            return true;
        }
        if (name.equals("sriov_drivers_autoprobe")) {
            put(p, value.trim());
            return true;
        }
        return false;
    }

    private void numvfs(Path pf, int n) {
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
        List<String> nets = sysfs.list(pf.resolve("net"));
        String ifname = nets.isEmpty() ? null : nets.get(0);
        if (n == 0) {
            for (int i = 0; i < cur; i++) {
                removeDevice(vfBdf(pfName, i));
                delete(realDir(pfName).resolve("virtfn" + i));
            }
            if (ifname != null) {
                vfTables.get(ifname).clear(); // igb forgets VF settings when SR-IOV is disabled
            }
        } else {
            boolean auto = !read(pf.resolve("sriov_drivers_autoprobe")).equals("0");
            for (int i = 0; i < n; i++) {
                String vf = vfBdf(pfName, i);
                device(vf, "8086", "10ca", "020000", null);
                link(realDir(vf).resolve("physfn"), realDir(pfName));
                group(20 + i + (pfName.startsWith("0000:02") ? 10 : 0), vf);
                link(realDir(pfName).resolve("virtfn" + i), realDir(vf));
                if (ifname != null) {
                    vfTables.get(ifname).put(i, new VfInfo(i, "00:00:00:00:00:00", 0, 0, 0x8100, 0, 0, true, false, 0, false));
                }
                if (auto) {
                    bindNow(dev(vf), hostDriver(dev(vf)));
                }
            }
        }
        put(pf.resolve("sriov_numvfs"), Integer.toString(n));
    }

    public SriovManager manager() {
        return new SriovManager(sysfs, netlink, false);
    }
}

package dev.jvmm.sriov;

import static dev.jvmm.sriov.SriovException.Reason.INVALID_ARGUMENT;
import static dev.jvmm.sriov.SriovException.Reason.NOT_A_NIC;
import static dev.jvmm.sriov.SriovException.Reason.NOT_SRIOV;
import static dev.jvmm.sriov.SriovException.Reason.TIMEOUT;

import dev.jvmm.sys.Errno;
import dev.jvmm.sys.ErrnoException;
import dev.jvmm.sys.netlink.Link;
import dev.jvmm.sys.netlink.VfAttribute;
import dev.jvmm.sys.netlink.VfInfo;
import dev.jvmm.sys.pci.DriverBinder;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciException;
import dev.jvmm.sys.pci.Sysfs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SR-IOV lifecycle on one host: discovery, VF creation and destruction through {@code sriov_numvfs}, VF network
 * settings over rtnetlink, and driver binding. {@link SriovApply} builds the declarative apply on top of this.
 */
public class SriovManager implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SriovManager.class);
    private final SriovDiscovery discovery;
    private final DriverBinder binder;
    private final VfNetlink netlink;
    private final Duration pollInterval = Duration.ofMillis(50);

    public SriovManager(Sysfs sysfs, VfNetlink netlink, boolean modprobe) {
        this.discovery = new SriovDiscovery(sysfs);
        this.binder = new DriverBinder(sysfs, modprobe);
        this.netlink = netlink;
    }

    /** The real host: {@code /sys}, rtnetlink, modprobe allowed. */
    public static SriovManager system() {
        return new SriovManager(Sysfs.system(), new RtnetlinkVfNetlink(), true);
    }

    public SriovDiscovery discovery() {
        return discovery;
    }

    /** The binding {@code a} has now: driver and {@code driver_override}. */
    public DriverBinder.Binding binding(PciAddress a) {
        return SriovException.mapping(() -> binder.binding(a));
    }

    /** Puts back a binding that {@link #bind} or {@link #binding} returned; returns the driver bound afterwards. */
    public String restore(PciAddress a, DriverBinder.Binding before) {
        return SriovException.mapping(() -> binder.restore(a, before));
    }

    public Sysfs sysfs() {
        return discovery.sysfs();
    }

    public PciAddress resolve(String pf) {
        return discovery.resolve(pf);
    }

    /** One PF with its VFs and, for a NIC PF, each VF's network settings read over rtnetlink. */
    public PfInfo pf(PciAddress a) {
        PfInfo p = discovery.pf(a);
        if (!p.isNic() || p.vfs().isEmpty()) {
            return p;
        }
        Link link = netlink.pf(p.netdev());
        List<VfDevice> vfs = new ArrayList<>();
        for (VfDevice v : p.vfs()) {
            vfs.add(v.withNet(link.vf(v.index())));
        }
        return new PfInfo(p.bdf(), p.vendorDevice(), p.driver(), p.totalVfs(), p.numVfs(), p.autoprobe(), p.netdevs(), List.copyOf(vfs));
    }

    /** All SR-IOV PFs with their VFs (network settings included where the PF is a NIC). */
    public List<PfInfo> list() {
        List<PfInfo> out = new ArrayList<>();
        for (PfInfo p : discovery.pfs()) {
            out.add(pf(p.bdf()));
        }
        return out;
    }

    /** Sets {@code sriov_drivers_autoprobe}; a no-op when it already has that value. */
    public void setAutoprobe(PciAddress pf, boolean on) {
        Path f = sysfs().pciDevice(pf).resolve("sriov_drivers_autoprobe");
        Integer cur = SriovException.mapping(() -> sysfs().readInt(f));
        if (cur == null) {
            throw new SriovException(NOT_SRIOV, pf + " has no sriov_drivers_autoprobe");
        }
        if ((cur != 0) != on) {
            SriovException.mapping(() -> {
                sysfs().write(f, on ? "1" : "0");
                return null;
            });
        }
    }

    /**
     * Makes {@code pf} have {@code n} VFs. Reads first and does nothing when the count is already {@code n};
     * otherwise goes through 0 (the kernel only allows 0 -> N and N -> 0), then waits up to {@code timeout} for
     * every {@code virtfnN} link, its {@code physfn} back-link and, where a network driver bound the VF, its netdev.
     * {@code autoprobe} (null: leave) is set before the VFs are created, so with false no host driver grabs them.
     *
     * @return true when the VF count changed
     */
    public boolean setNumVfs(PciAddress pf, int n, Boolean autoprobe, Duration timeout) {
        PfInfo p = discovery.pf(pf);
        if (n < 0) {
            throw new SriovException(INVALID_ARGUMENT, "VF count " + n + " is negative");
        }
        if (n > p.totalVfs()) {
            throw new SriovException(p.totalVfs() == 0 ? NOT_SRIOV : INVALID_ARGUMENT, pf + " supports at most "
                    + p.totalVfs() + " VFs (sriov_totalvfs)" + (p.totalVfs() == 0
                    ? ": the firmware or driver reports no VFs (check firmware SR-IOV settings and driver parameters)" : "")
                    + ", " + n + " requested");
        }
        if (autoprobe != null) {
            setAutoprobe(pf, autoprobe);
        }
        if (p.numVfs() == n) {
            return false;
        }
        Path numvfs = sysfs().pciDevice(pf).resolve("sriov_numvfs");
        long deadline = System.nanoTime() + timeout.toNanos();
        if (p.numVfs() != 0) {
            writeNumVfs(pf, numvfs, 0);
            await(deadline, timeout, () -> discovery.pf(pf).vfs().isEmpty(), pf + ": VFs still present after writing 0 to sriov_numvfs");
        }
        if (n > 0) {
            if (p.driver() == null) {
                throw new SriovException(NOT_SRIOV, pf + " has no driver bound; SR-IOV needs the PF's driver (sriov_configure)");
            }
            writeNumVfs(pf, numvfs, n);
            waitForVfs(pf, n, deadline, timeout);
        }
        LOG.info("{}: {} -> {} VFs", pf, p.numVfs(), n);
        return true;
    }

    private void writeNumVfs(PciAddress pf, Path numvfs, int n) {
        try {
            sysfs().write(numvfs, Integer.toString(n));
        } catch (ErrnoException e) {
            throw Explain.numVfs(pf, n, e);
        } catch (PciException e) {
            throw SriovException.of(e);
        }
    }

    private void waitForVfs(PciAddress pf, int n, long deadline, Duration timeout) {
        await(deadline, timeout, () -> {
            PfInfo p = discovery.pf(pf);
            if (p.vfs().size() < n) {
                return false;
            }
            for (VfDevice v : p.vfs()) {
                if (!Files.exists(sysfs().pciDevice(v.bdf()).resolve("physfn"))) {
                    return false;
                }
            }
            return true;
        }, pf + ": " + n + " VFs (virtfnN links with physfn) did not all appear");
        PfInfo p = discovery.pf(pf);
        if (!p.isNic()) {
            return;
        }
        for (VfDevice v : p.vfs()) {
            // a network driver that bound a VF registers its netdev during probe; wait for it, not for VFs left
            // unbound (autoprobe off) or given to a userspace driver
            if (v.driver() != null && !v.driver().equals("vfio-pci") && !v.driver().equals("pci-stub")) {
                Path net = sysfs().pciDevice(v.bdf()).resolve("net");
                await(deadline, timeout, () -> !sysfs().list(net).isEmpty(),
                        pf + ": VF " + v.index() + " (" + v.bdf() + ", driver " + v.driver() + ") has no netdev");
            }
        }
    }

    private void await(long deadline, Duration timeout, BooleanSupplier done, String what) {
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new SriovException(TIMEOUT, what + " within " + timeout.toSeconds() + " s");
            }
            try {
                Thread.sleep(pollInterval.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SriovException(TIMEOUT, "interrupted while waiting: " + what, e);
            }
        }
    }

    /**
     * Destroys all VFs of {@code pf} (writes 0 to {@code sriov_numvfs}). A VF held open through vfio by a running VM
     * makes the kernel wait in vfio-pci's remove until the VM lets go; the write timeout reports that.
     */
    public boolean destroy(PciAddress pf, Duration timeout) {
        return setNumVfs(pf, 0, null, timeout);
    }

    /**
     * Applies network settings to one VF, one attribute per rtnetlink request so a refusal names its attribute.
     * Returns the attributes sent (empty when the VF already had these settings).
     */
    public List<VfAttribute> configureVf(PciAddress pf, int vf, VfNetConfig cfg) {
        PfInfo p = nicPf(pf, vf);
        Link link = netlink.pf(p.netdev());
        return send(p, link, vf, cfg.changes(vf, link.vf(vf)), null);
    }

    /** What {@link #resetVf} did: the attributes sent, and those the driver does not support (with its errno). */
    public record VfReset(List<VfAttribute> sent, List<String> skipped) {
    }

    /**
     * Puts a VF back to the settings of an unassigned VF ({@link VfNetConfig#cleared}): MAC 00:00:00:00:00:00, no
     * VLAN tag, no rate limit, spoof checking on, trust off. Only what differs is sent. A setting the driver does not
     * report is left alone, and one it refuses as unsupported (EOPNOTSUPP; EINVAL for the all-zero MAC, which
     * the igb driver of older kernels refuses) is skipped and named in the result; any other refusal throws.
     */
    public VfReset resetVf(PciAddress pf, int vf) {
        PfInfo p = nicPf(pf, vf);
        Link link = netlink.pf(p.netdev());
        VfInfo now = link.vf(vf);
        List<String> skipped = new ArrayList<>();
        List<VfAttribute> sent = send(p, link, vf, VfNetConfig.cleared(now).changes(vf, now), skipped);
        return new VfReset(sent, List.copyOf(skipped));
    }

    /** The NIC PF {@code pf}, checked to have VF {@code vf}. */
    private PfInfo nicPf(PciAddress pf, int vf) {
        PfInfo p = discovery.pf(pf);
        if (!p.isNic()) {
            throw new SriovException(NOT_A_NIC, pf + " (" + p.vendorDevice() + ", driver " + p.driver()
                    + ") is not a network device, so VF network settings do not apply");
        }
        if (vf < 0 || vf >= p.numVfs()) {
            throw new SriovException(INVALID_ARGUMENT, pf + " has " + p.numVfs() + " VFs; there is no VF " + vf);
        }
        return p;
    }

    /**
     * Sends {@code attrs} one per request. With {@code skipped} non-null, an attribute the driver does not support
     * is noted there instead of failing.
     */
    private List<VfAttribute> send(PfInfo p, Link link, int vf, List<VfAttribute> attrs, List<String> skipped) {
        List<VfAttribute> sent = new ArrayList<>();
        for (VfAttribute a : attrs) {
            try {
                netlink.set(link, a);
                sent.add(a);
            } catch (ErrnoException e) {
                if (skipped != null && (e.errno() == Errno.EOPNOTSUPP || e.errno() == Errno.EINVAL && a instanceof VfAttribute.Mac)) {
                    LOG.info("{} VF {}: {} ({}) not supported by the driver: {}", p.netdev(), vf, a.kernelName(), a.describe(), e.errnoName());
                    skipped.add(a.kernelName() + " (" + a.describe() + "): " + e.errnoName());
                    continue;
                }
                throw Explain.vfAttribute(p.netdev(), vf, a.kernelName() + " (" + a.describe() + ")", e);
            }
        }
        return sent;
    }

    /**
     * Reads the VF table back and fails when the driver reports something else than {@code cfg} asked for
     * (spoofchk/trust that the driver does not report cannot be checked and are not an error).
     */
    public void verifyVf(PciAddress pf, int vf, VfNetConfig cfg) {
        VfInfo back = readVf(pf, vf);
        List<VfAttribute> left = cfg.changes(vf, back).stream().filter(a -> !unreported(a, back)).toList();
        if (!left.isEmpty()) {
            throw new SriovException(SriovException.Reason.NETLINK, pf + " VF " + vf + ": the driver accepted "
                    + left.get(0).describe() + " but reads back " + back);
        }
    }

    private static boolean unreported(VfAttribute a, VfInfo back) {
        return back != null && (a instanceof VfAttribute.Spoofchk && back.spoofchk() == null
                || a instanceof VfAttribute.Trust && back.trust() == null);
    }

    /** The PF's netdev link with VF table (for read-back). */
    public VfInfo readVf(PciAddress pf, int vf) {
        PfInfo p = discovery.pf(pf);
        if (!p.isNic()) {
            return null;
        }
        return netlink.pf(p.netdev()).vf(vf);
    }

    /** Binds a device (usually a VF) to {@code driver}; returns the binding it had before. */
    public DriverBinder.Binding bind(PciAddress dev, String driver) {
        return SriovException.mapping(() -> binder.bind(dev, driver));
    }

    /** Gives a device back to its host driver (clears driver_override); returns the driver that took it. */
    public String unbind(PciAddress dev) {
        return SriovException.mapping(() -> binder.bindHost(dev));
    }

    @Override
    public void close() {
        netlink.close();
    }
}

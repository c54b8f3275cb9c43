package dev.jvmm.sys.pci;

import dev.jvmm.sys.FileErrors;
import dev.jvmm.sys.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The host side of VFIO assignment: which PCI functions could be given to VFIO (IOMMU group, driver, group
 * viability, who holds them open), binding one to vfio-pci, and giving it back to the driver it had.
 *
 * <p>{@link #bind} records the binding it replaced in a small JSON file per device under a record directory
 * ({@link #DEFAULT_RECORD_DIR}, {@code /run/jvmm/vfio/0000:03:00.0.json}), so that a later {@link #unbind}, in
 * another process, can put it back. /run is a tmpfs: a reboot forgets the records together with the bindings and
 * {@code driver_override}s they describe. Without a record, {@link #unbind} clears {@code driver_override} and lets
 * the kernel probe the device's default driver.
 */
public final class VfioHost {
    /** Where bind records live on the running host. */
    public static final Path DEFAULT_RECORD_DIR = Path.of("/run/jvmm/vfio");

    private final PciDevices pci;
    private final IommuGroups groups;
    private final DriverBinder binder;
    private final Path proc;
    private final Path records;

    /**
     * @param proc      the procfs mount, for who holds VFIO nodes open
     * @param recordDir where bind records live
     * @param modprobe  whether vfio-pci may be loaded with modprobe(8) when it is not
     */
    public VfioHost(Sysfs sysfs, Path proc, Path recordDir, boolean modprobe) {
        this.pci = new PciDevices(sysfs);
        this.groups = new IommuGroups(pci);
        this.binder = new DriverBinder(sysfs, modprobe);
        this.proc = proc;
        this.records = recordDir;
    }

    /** The running host: {@code /sys}, {@code /proc}, records under {@link #DEFAULT_RECORD_DIR}, modprobe allowed. */
    public static VfioHost system() {
        return new VfioHost(Sysfs.system(), Path.of("/proc"), DEFAULT_RECORD_DIR, true);
    }

    /**
     * One PCI function as {@code jvmm vfio list} shows it.
     *
     * @param viability  its group's viability; null when it has no IOMMU group
     * @param users      the processes holding its group node (or its VFIO cdev) open
     * @param upNetdevs  its network interfaces that are up (a host driver is using it)
     * @param recorded   the binding {@link #bind} replaced, when jvmm bound it; null otherwise
     */
    public record Entry(PciFunction function, IommuGroups.Viability viability, List<VfioUsers.User> users,
            List<String> upNetdevs, DriverBinder.Binding recorded) {
        public Entry {
            users = List.copyOf(users);
            upNetdevs = List.copyOf(upNetdevs);
        }
    }

    /** Every function, and how many processes could not be looked into (their holders are unknown). */
    public record Listing(List<Entry> entries, int unreadableProcesses) {
        public Listing {
            entries = List.copyOf(entries);
        }
    }

    /** What {@link #bind} did: the binding before, whether anything changed, the group's viability now. */
    public record Bound(PciAddress address, DriverBinder.Binding before, boolean changed, Path record,
            IommuGroups.Viability viability) {
    }

    /** What {@link #unbind} did: the record it followed (null: none), the driver now, whether anything changed. */
    public record Unbound(PciAddress address, DriverBinder.Binding recorded, String driver, boolean changed) {
    }

    /** Every PCI function of the host with its group, viability, users and up interfaces. */
    public Listing list() {
        VfioUsers users = VfioUsers.scan(proc);
        Map<Integer, IommuGroups.Viability> viability = new HashMap<>();
        List<Entry> out = new ArrayList<>();
        for (PciAddress a : pci.all()) {
            PciFunction f;
            try {
                f = pci.function(a);
            } catch (PciException e) {
                if (e.reason() == PciException.Reason.DEVICE_NOT_FOUND) {
                    continue; // removed while we looked (a VF going away)
                }
                throw e;
            }
            IommuGroups.Viability v = f.iommuGroup() == null ? null
                    : viability.computeIfAbsent(f.iommuGroup(), groups::viability);
            out.add(new Entry(f, v, users.of(pci, a), upNetdevs(f), recordedQuietly(a)));
        }
        return new Listing(out, users.unreadable());
    }

    private List<String> upNetdevs(PciFunction f) {
        return f.netdevs().stream().filter(n -> "up".equals(pci.operstate(f.address(), n))).toList();
    }

    /**
     * Binds {@code a} to vfio-pci (loading it if needed) and records the binding it had. Refused before anything
     * changes when the device does not exist or has no IOMMU group. Already on vfio-pci with the override set: no
     * change, and a record from an earlier bind is kept.
     */
    public Bound bind(PciAddress a) {
        pci.require(a);
        int group = groups.groupOf(a);
        DriverBinder.Binding now = binder.binding(a);
        if (DriverBinder.VFIO_PCI.equals(now.driver()) && DriverBinder.VFIO_PCI.equals(now.override())) {
            DriverBinder.Binding rec = recordedQuietly(a);
            return new Bound(a, rec == null ? now : rec, false, rec == null ? null : recordFile(a), groups.viability(group));
        }
        Path rec = writeRecord(a, now); // first, so that a failure here leaves the device as it was
        try {
            binder.bind(a, DriverBinder.VFIO_PCI);
        } catch (RuntimeException e) {
            try {
                Files.deleteIfExists(rec);
            } catch (IOException d) {
                e.addSuppressed(d);
            }
            throw e;
        }
        return new Bound(a, now, true, rec, groups.viability(group));
    }

    /**
     * Gives {@code a} back: to the binding {@link #bind} recorded, or, without a record, to the kernel's default
     * driver with an empty {@code driver_override}. Nothing to do when there is no record and the device is not
     * on vfio-pci. Refused while a process holds the device's VFIO node open (the kernel would wait for it).
     */
    public Unbound unbind(PciAddress a) {
        pci.require(a);
        DriverBinder.Binding rec = recorded(a);
        DriverBinder.Binding now = binder.binding(a);
        boolean onVfio = DriverBinder.VFIO_PCI.equals(now.driver()) || DriverBinder.VFIO_PCI.equals(now.override());
        if (rec == null && !onVfio) {
            return new Unbound(a, null, now.driver(), false);
        }
        if (DriverBinder.VFIO_PCI.equals(now.driver())) {
            requireUnused(a, pci.iommuGroup(a));
        }
        String driver = rec != null ? binder.restore(a, rec) : binder.bindHost(a);
        deleteRecord(a);
        return new Unbound(a, rec, driver, rec == null || !rec.equals(now));
    }

    private void requireUnused(PciAddress a, Integer group) {
        List<VfioUsers.User> us = VfioUsers.scan(proc).of(pci, a);
        if (!us.isEmpty()) {
            throw new PciException(PciException.Reason.IN_USE, a + " is in use: " + (group == null ? "its VFIO device"
                    : VfioUsers.groupNode(group)) + " is held open by " + String.join(", ",
                    us.stream().map(VfioUsers.User::toString).toList()) + "; stop " + (us.size() == 1 ? "it" : "them")
                    + " first (unbinding now would wait in the kernel until the device is closed)");
        }
    }

    /** The record file of {@code a}. */
    public Path recordFile(PciAddress a) {
        return records.resolve(a + ".json");
    }

    /** The binding {@link #bind} recorded for {@code a}, or null when there is none. */
    public DriverBinder.Binding recorded(PciAddress a) {
        Path f = recordFile(a);
        if (!Files.exists(f)) {
            return null;
        }
        try {
            if (Json.parse(Files.readString(f, StandardCharsets.UTF_8)) instanceof Map<?, ?> m
                    && a.toString().equals(m.get("bdf")) && m.containsKey("driver")
                    && (m.get("driver") == null || m.get("driver") instanceof String)
                    && (m.get("driverOverride") == null || m.get("driverOverride") instanceof String)) {
                return new DriverBinder.Binding((String) m.get("driver"), (String) m.get("driverOverride"));
            }
            throw new PciException(PciException.Reason.SYSFS, "bind record " + f + " does not describe " + a
                    + "; delete it and give the device back by hand");
        } catch (IOException | Json.ParseException e) {
            throw new PciException(PciException.Reason.SYSFS, "cannot read the bind record " + f + ": "
                    + FileErrors.describe(e), e);
        }
    }

    private DriverBinder.Binding recordedQuietly(PciAddress a) {
        try {
            return recorded(a);
        } catch (PciException e) {
            return null;
        }
    }

    private Path writeRecord(PciAddress a, DriverBinder.Binding before) {
        Path f = recordFile(a);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("bdf", a.toString());
        m.put("driver", before.driver());
        m.put("driverOverride", before.override());
        m.put("boundAt", Instant.now().toString());
        try {
            Files.createDirectories(records);
            Path tmp = Files.createTempFile(records, a + ".", ".tmp");
            Files.writeString(tmp, Json.write(m), StandardCharsets.UTF_8);
            Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return f;
        } catch (IOException e) {
            throw new PciException(PciException.Reason.SYSFS, "cannot write the bind record " + f + " (nothing was"
                    + " changed): " + FileErrors.describe(e), e);
        }
    }

    private void deleteRecord(PciAddress a) {
        try {
            Files.deleteIfExists(recordFile(a));
        } catch (IOException e) {
            throw new PciException(PciException.Reason.SYSFS, a + " was given back, but its bind record "
                    + recordFile(a) + " could not be deleted: " + FileErrors.describe(e), e);
        }
    }
}

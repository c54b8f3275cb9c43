package dev.jvmm.vmm.api;

import dev.jvmm.sriov.VfPool;
import dev.jvmm.vmm.Vm;
import dev.jvmm.vmm.VmExit;
import dev.jvmm.vmm.VmRunner;
import dev.jvmm.vmm.VmStats;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.DeviceSpecs;
import dev.jvmm.vmm.config.DiskConfig;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.NicConfig;
import dev.jvmm.vmm.config.VfioConfig;
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.devices.DeviceManager;
import dev.jvmm.vmm.nic.NicPlan;
import dev.jvmm.vmm.nic.NicWiring;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running VM as the control API sees it ({@link VmControl}): follows the VM the runner builds at each boot
 * ({@link VmRunner.Lifecycle}), turns API requests into {@link Vm} and {@link DeviceManager} calls, and VMM
 * errors into HTTP statuses (bad input 400, unknown device 404, a clash with the VM's state 409, a guest that did
 * not eject in time 504). NICs added through {@code vm.add-nic} are planned like {@code --nic} (a VF from the pool
 * or virtio-net, with the reason) and their VF leases are given back when the NIC is removed or the VM ends.
 *
 * <p>A reboot, from the guest or the API, builds the VM again from its launch configuration: devices added since
 * are not re-added, and those removed come back (as a fresh boot of the same command line would do).
 */
public final class VmController implements VmControl, VmRunner.Lifecycle, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VmController.class);
    private final VmConfig config;
    private final List<NicPlan> plans;
    private final Function<List<NicConfig>, List<NicPlan>> planner;
    private final Supplier<VfPool> pool;
    /** The VF pool, opened for the first NIC the API adds as a VF and kept until {@link #close}: its leases use it. */
    private VfPool openPool;
    private final String holder;
    private final Function<String, VfPool.Lease> launchLeases;
    /** Failover primaries added back through the API, by NIC id: their leases. */
    private final Map<String, VfPool.Lease> primaryLeases = new LinkedHashMap<>();
    private volatile Vm vm;
    private volatile String state = "starting";
    private int boots;
    /** NICs added through the API, by NIC id: their plan, device and lease. */
    private final Map<String, HotNic> hotNics = new LinkedHashMap<>();

    private record HotNic(NicPlan plan, String device, NicWiring.Wired wired) {
    }

    /**
     * @param config  the VM as launched (NICs already turned into devices)
     * @param plans   what each {@code --nic} became, and why
     * @param planner plans NICs added through the API (as launch plans {@code --nic})
     * @param pool    the VF pool for NICs added as VFs (opened when needed, closed after)
     * @param holder  how leases name this VM ({@code jvmm pid N})
     * @param launchLeases the lease of a launch NIC's VF, by NIC id (null if none): a failover primary removed
     *                     through the API gives its VF back
     */
    public VmController(VmConfig config, List<NicPlan> plans, Function<List<NicConfig>, List<NicPlan>> planner,
            Supplier<VfPool> pool, String holder, Function<String, VfPool.Lease> launchLeases) {
        this.launchLeases = launchLeases;
        this.config = config;
        this.plans = List.copyOf(plans);
        this.planner = planner;
        this.pool = pool;
        this.holder = holder;
    }

    @Override
    public synchronized void started(Vm v) {
        vm = v;
        boots++;
        state = "running";
    }

    @Override
    public synchronized void stopped(Vm v) {
        state = "stopped";
        vm = null;
    }

    /** The VM is torn down: NICs added through the API went with it (a reboot does not bring them back). */
    @Override
    public synchronized void closed(Vm v) {
        releaseHotNics();
    }

    /** Gives back the leases of NICs added through the API (their devices went with the VM). */
    private void releaseHotNics() {
        for (HotNic h : hotNics.values()) {
            try {
                h.wired().close();
            } catch (RuntimeException e) {
                log.warn("{}: releasing its VF: {}", h.plan().id(), e.getMessage());
            }
        }
        hotNics.clear();
        closePoolIfUnused();
    }

    /**
     * Gives back what the API took (the launch's end, after the last VM was torn down): NICs added and failover
     * primaries added back (those outlive a reboot: the pair plugs its primary again).
     */
    @Override
    public synchronized void close() {
        releaseHotNics();
        for (Map.Entry<String, VfPool.Lease> e : primaryLeases.entrySet()) {
            try {
                e.getValue().close();
            } catch (RuntimeException x) {
                log.warn("{}: releasing its failover primary's VF: {}", e.getKey(), x.getMessage());
            }
        }
        primaryLeases.clear();
        closePoolIfUnused();
    }

    /** Closes the VF pool (its netlink socket, its lock) once no lease taken through the API is left. */
    private synchronized void closePoolIfUnused() {
        boolean leased = !primaryLeases.isEmpty() || hotNics.values().stream().anyMatch(h -> !h.wired().leases().isEmpty());
        if (openPool != null && !leased) {
            try {
                openPool.close();
            } catch (Exception e) {
                log.warn("closing the VF pool: {}", e.getMessage());
            }
            openPool = null;
        }
    }

    /** The VF pool the API's leases come from; a lease is given back through the pool it came from. */
    private synchronized VfPool vfPool() {
        if (openPool == null) {
            openPool = pool.get();
        }
        return openPool;
    }

    private Vm vm() {
        Vm v = vm;
        if (v == null || v.exited()) {
            throw new ApiException(409, null, "the VM is not running (" + state + ")");
        }
        return v;
    }

    @Override
    public Map<String, Object> info() {
        Vm v = vm;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("state", v == null ? state : v.exited() ? "stopping" : v.paused() ? "paused" : "running");
        out.put("boots", (long) boots);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("kernel", config.kernel().toString());
        c.put("initrd", config.initrd() == null ? null : config.initrd().toString());
        c.put("cmdline", config.cmdline());
        c.put("memory_mib", config.memory() >> 20);
        c.put("cpus", (long) config.cpus());
        c.put("on_reboot", config.onReboot().name().toLowerCase(java.util.Locale.ROOT));
        c.put("migratable", config.migratable());
        out.put("config", c);
        List<Map<String, Object>> devices = v == null ? List.of() : v.devices().describe();
        out.put("devices", devices);
        List<Map<String, Object>> nics = new ArrayList<>();
        for (NicPlan p : plans) {
            nics.add(nicInfo(p, deviceOfNic(p, devices), false));
        }
        synchronized (this) {
            for (HotNic h : hotNics.values()) {
                nics.add(nicInfo(h.plan(), h.device(), true));
            }
        }
        out.put("nics", nics);
        return out;
    }

    private Map<String, Object> nicInfo(NicPlan p, String device, boolean hot) {
        Map<String, Object> m = new LinkedHashMap<>(p.toJson());
        m.put("device", device);
        m.put("hotplugged", hot);
        m.put("line", p.line());
        Vm v = vm;
        if (p.choice() == NicPlan.Choice.FAILOVER && v != null) {
            m.put("failover", v.devices().failover(p.id()));
        }
        return m;
    }

    /** The device a launch NIC became: the VF it leased (by BDF) or the virtio-net labelled with its id. */
    private static String deviceOfNic(NicPlan p, List<Map<String, Object>> devices) {
        for (Map<String, Object> d : devices) {
            if (p.id().equals(d.get("nic"))) {
                return (String) d.get("id");
            }
        }
        return null;
    }

    @Override
    public Map<String, Object> counters() {
        Vm v = vm();
        Map<String, Object> out = new LinkedHashMap<>(VmStats.collect(v));
        Map<String, Object> virtio = new LinkedHashMap<>();
        for (DeviceManager.Plugged p : v.devices().devices()) {
            if (p.transport() == null) {
                continue;
            }
            List<Map<String, Object>> qs = new ArrayList<>();
            long read = 0;
            long written = 0;
            long chains = 0;
            for (dev.jvmm.virtio.VirtQueue q : p.transport().queues()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("index", (long) q.index());
                m.put("chains", q.completedChains());
                m.put("bytes_read", q.bytesRead());
                m.put("bytes_written", q.bytesWritten());
                qs.add(m);
                read += q.bytesRead();
                written += q.bytesWritten();
                chains += q.completedChains();
            }
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("bdf", p.bdf());
            d.put("chains", chains);
            d.put("bytes_read", read);
            d.put("bytes_written", written);
            d.put("queues", qs);
            virtio.put(p.id(), d);
        }
        out.put("virtio", virtio);
        return out;
    }

    @Override
    public void pause() {
        call(() -> vm().pause());
    }

    @Override
    public void resume() {
        call(() -> vm().resume());
    }

    @Override
    public Map<String, Object> snapshot(java.nio.file.Path destination, boolean resume) {
        Vm v = vm();
        return call(() -> {
            synchronized (v) {
                boolean wasPaused = v.paused();
                if (!wasPaused) {
                    v.pause();
                }
                boolean done = false;
                try {
                    dev.jvmm.vmm.snapshot.SnapshotDir.Saved s = dev.jvmm.vmm.snapshot.SnapshotDir.save(v, config,
                            destination);
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("destination", destination.toString());
                    m.put("state_bytes", s.stateBytes());
                    m.put("memory_bytes", s.memoryBytes());
                    m.put("memory_written_bytes", s.memoryWritten());
                    m.put("ms", s.millis());
                    m.put("paused", !resume);
                    done = true;
                    return m;
                } finally {
                    // resumed as asked; after a failure, left as it was before
                    if ((done ? resume : !wasPaused) && v.paused()) {
                        v.resume();
                    }
                }
            }
        });
    }

    @Override
    public Map<String, Object> sendMigration(String destination, long downtimeMs, Duration timeout) {
        Vm v = vm();
        return call(() -> {
            synchronized (v) {
                if (v.exited()) {
                    throw new ApiException(409, null, "the VM is stopping");
                }
                v.devices().checkMigratable(); // before any primary is unplugged
                Map<String, String> plugged = v.devices().pluggedPrimaries();
                if (v.paused() && !plugged.isEmpty()) {
                    throw new ApiException(409, null, "failover NIC(s) " + String.join(", ", plugged.keySet())
                            + ": the guest must eject the primary VF before the migration, and it is paused: resume "
                            + "it first");
                }
                List<String> unplugged = unplugPrimaries(v, plugged);
                boolean done = false;
                try {
                    Map<String, Object> out = dev.jvmm.vmm.migration.MigrationSender.send(v, config, destination,
                            downtimeMs, timeout).toJson();
                    out.put("failover_primaries_unplugged", unplugged);
                    done = true;
                    return out;
                } finally {
                    if (!done) {
                        replugPrimaries(v, unplugged);
                    }
                }
            }
        });
    }

    /** How long the guest has to eject a failover primary before a migration. */
    static final Duration PRIMARY_EJECT_TIMEOUT = Duration.ofSeconds(60);

    /**
     * Hot-unplugs the primary of each failover pair before a migration (the guest's net_failover moves its traffic to
     * the standby, which migrates) and gives its VF back to the pool: a VF keeps the guest's MAC while leased, and
     * would take that MAC's frames from the standby's macvtap. {@code primaries}: NIC id to its primary's device.
     * Returns the NICs done; on a failure plugs VFs back into those and throws.
     */
    private List<String> unplugPrimaries(Vm v, Map<String, String> primaries) {
        List<String> done = new ArrayList<>();
        try {
            for (Map.Entry<String, String> e : primaries.entrySet()) {
                log.info("{}: unplugging failover primary {} for the migration; the standby carries the traffic",
                        e.getKey(), e.getValue());
                v.devices().remove(e.getValue(), PRIMARY_EJECT_TIMEOUT);
                done.add(e.getKey());
                releasePrimary(v, e.getKey());
            }
        } catch (RuntimeException e) {
            replugPrimaries(v, done);
            throw e;
        }
        return done;
    }

    /** A migration did not happen: the failover pairs get primaries from the pool again. */
    private void replugPrimaries(Vm v, List<String> nics) {
        for (String nic : nics) {
            try {
                Map<String, Object> p = addPrimary(v, nic, Map.of("id", nic));
                log.info("{}: failover primary {} plugged back as {} (the VM stays here)", nic, p.get("primary"),
                        p.get("id"));
            } catch (RuntimeException e) {
                log.warn("{}: could not plug the failover primary back: {}; the standby carries the traffic (add it "
                        + "with vm.add-nic {{\"id\": \"{}\"}})", nic, e.getMessage(), nic);
            }
        }
    }

    @Override
    public void shutdown(Duration timeout) {
        Vm v = vm();
        if (v.paused()) {
            throw new ApiException(409, null, "the VM is paused: resume it first (or power it off)");
        }
        v.pressPowerButton();
        log.info("shutdown: pressed the ACPI power button; powering off in {} s if the guest has not", timeout.toSeconds());
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!v.exited() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (!v.exited()) {
            v.requestExit(new VmExit(VmExit.Kind.POWEROFF, "the guest did not power off within " + timeout.toSeconds()
                    + " s of the ACPI power button: powered off"));
        }
    }

    @Override
    public void powerOff() {
        vm().requestExit(new VmExit(VmExit.Kind.POWEROFF, "powered off through the API"));
    }

    @Override
    public void reboot() {
        vm().requestExit(new VmExit(VmExit.Kind.REBOOT, "reboot through the API"));
    }

    @Override
    public Map<String, Object> balloon() {
        return balloonJson(balloonOf(vm()).status());
    }

    @Override
    public Map<String, Object> resizeBalloon(long bytes) {
        dev.jvmm.virtio.balloon.VirtioBalloon b = balloonOf(vm());
        try {
            b.setTarget(bytes);
        } catch (IllegalArgumentException e) {
            throw new ApiException(400, "size", e.getMessage(), e);
        }
        return balloonJson(b.status());
    }

    private static dev.jvmm.virtio.balloon.VirtioBalloon balloonOf(Vm v) {
        dev.jvmm.virtio.balloon.VirtioBalloon b = v.devices().balloon();
        if (b == null) {
            throw new ApiException(404, null, "this VM has no balloon (launch it with --balloon)");
        }
        return b;
    }

    /** {@code vm.balloon}'s answer (docs/api.md): sizes in bytes, counters, the last stats by their Linux names. */
    static Map<String, Object> balloonJson(dev.jvmm.virtio.balloon.VirtioBalloon.Status s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("target_bytes", s.targetBytes());
        m.put("actual_bytes", s.actualBytes());
        m.put("driver", s.active());
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("stats", s.statsNegotiated());
        f.put("free_page_reporting", s.reportingNegotiated());
        f.put("deflate_on_oom", s.deflateOnOomNegotiated());
        m.put("negotiated", f);
        m.put("inflated_pages", s.inflatedPages());
        m.put("deflated_pages", s.deflatedPages());
        m.put("released_bytes", s.releasedBytes());
        m.put("reported_bytes", s.reportedBytes());
        m.put("refused_pages", s.refusedPages());
        m.put("release_errors", s.releaseErrors());
        m.put("release_inhibited", s.releaseInhibited());
        m.put("inhibited_pages", s.inhibitedPages());
        m.put("stats_interval_s", (long) s.statsIntervalSeconds());
        dev.jvmm.virtio.balloon.VirtioBalloon.Stats st = s.stats();
        if (st != null) {
            Map<String, Object> sm = new LinkedHashMap<>();
            sm.put("updated", java.time.Instant.ofEpochMilli(st.atMillis()).toString());
            sm.put("age_ms", Math.max(0, System.currentTimeMillis() - st.atMillis()));
            sm.put("updates", s.statsUpdates());
            Map<String, Object> values = new LinkedHashMap<>(st.values());
            sm.put("values", values);
            m.put("stats", sm);
        } else {
            m.put("stats", null);
        }
        return m;
    }

    @Override
    public Map<String, Object> add(DeviceKind kind, Map<String, Object> body) {
        Vm v = vm();
        String origin = kind.endpoint();
        DeviceManager.Plugged p = call(() -> switch (kind) {
            case DISK -> v.devices().addDisk(DeviceSpecs.disk(DeviceSpecs.parseJson(origin, body, "path",
                    DiskConfig.KEYS)), true);
            case NET -> v.devices().addNet(DeviceSpecs.net(DeviceSpecs.parseJson(origin, body, "tap", NetConfig.KEYS)),
                    true);
            case DEVICE -> v.devices().addVfio(DeviceSpecs.vfio(List.of(DeviceSpecs.parseJson(origin, body, "vfio",
                    VfioConfig.KEYS))).get(0), true);
            case NIC -> null;
        });
        if (kind == DeviceKind.NIC) {
            return addNic(v, body);
        }
        return Map.of("id", p.id(), "bdf", p.bdf());
    }

    private synchronized Map<String, Object> addNic(Vm v, Map<String, Object> body) {
        if (body.get("id") instanceof String nicId && v.devices().failoverWithoutPrimary(nicId)) {
            return addPrimary(v, nicId, body);
        }
        Map<String, Object> b = new LinkedHashMap<>(body);
        b.putIfAbsent("id", NicConfig.defaultId(plans.size() + hotNics.size()));
        List<DeviceSpecs.Spec> specs = call(() -> DeviceSpecs.nicsJson("vm.add-nic", List.of(b)));
        NicConfig nic = call(() -> DeviceSpecs.nics(specs, config.migratable(), holder).get(0));
        String id = nic.id();
        if (hotNics.containsKey(id) || plans.stream().anyMatch(p -> p.id().equals(id))) {
            throw new ApiException(409, "id", "vm.add-nic: the VM already has a NIC " + id);
        }
        NicPlan plan = call(() -> planner.apply(List.of(nic)).get(0));
        VmConfig none = config.withDevices(List.of(), List.of()).withVfio(List.of());
        boolean vf = plan.choice() == NicPlan.Choice.PASSTHROUGH;
        VfPool leases = vf ? vfPool() : null;
        NicWiring.Wired wired = call(() -> NicWiring.wire(none, List.of(plan), leases, holder, line -> log.info("{}", line)));
        DeviceManager.Plugged p;
        try {
            p = call(() -> vf ? v.devices().addVfio(wired.config().vfio().get(0), true)
                    : v.devices().addNet(wired.config().nets().get(0), true));
        } catch (RuntimeException e) {
            throw dev.jvmm.vmm.ResourceStack.closeAfter(wired, e);
        }
        hotNics.put(id, new HotNic(plan, p.id(), wired));
        log.info("vm.add-nic: {} as {}", plan.line(), p.id());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", p.id());
        out.put("bdf", p.bdf());
        out.put("nic", id);
        out.put("choice", plan.choice() == NicPlan.Choice.PASSTHROUGH ? "passthrough" : "virtio");
        out.put("reason", plan.reason());
        out.put("line", plan.line());
        return out;
    }

    /**
     * {@code vm.add-nic {"id": NIC}} for a failover NIC without a primary: takes a VF of its PF from the pool and
     * plugs it as the primary (now if the guest has negotiated STANDBY, else when it does).
     */
    private Map<String, Object> addPrimary(Vm v, String nicId, Map<String, Object> body) {
        if (body.size() > 1) {
            throw new ApiException(400, body.keySet().stream().filter(k -> !k.equals("id")).findFirst().orElse(null),
                    "vm.add-nic " + nicId + ": the failover NIC exists; only {\"id\": \"" + nicId + "\"} adds its primary back");
        }
        NicPlan launch = plans.stream().filter(p -> p.id().equals(nicId)).findFirst().orElse(null);
        NicConfig n = launch != null ? launch.nic() : hotNics.get(nicId).plan().nic();
        NicConfig vfOnly = new NicConfig(n.id(), NicConfig.Mode.PASSTHROUGH, n.pf(), n.vf(), n.mac(), n.vlan(), n.qos(),
                n.spoofchk(), n.trust(), n.rate(), null, false, null, null, false);
        NicPlan plan = call(() -> planner.apply(List.of(vfOnly)).get(0));
        VfPool leases = vfPool();
        VfPool.Lease lease = call(() -> NicWiring.lease(plan, leases, holder, line -> log.info("{}", line)));
        DeviceManager.Plugged p;
        try {
            v.devices().setFailoverPrimary(nicId, new VfioConfig(lease.vf().toString(), VfioConfig.Iommu.AUTO, true, nicId));
            p = call(() -> v.devices().plugPrimary(nicId));
        } catch (RuntimeException e) {
            v.devices().setFailoverPrimary(nicId, null);
            throw dev.jvmm.vmm.ResourceStack.closeAfter(lease, e);
        }
        primaryLeases.put(nicId, lease);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", p == null ? null : p.id());
        out.put("bdf", p == null ? null : p.bdf());
        out.put("nic", nicId);
        out.put("choice", "failover");
        out.put("primary", lease.vf().toString());
        out.put("reason", p == null ? "the primary is plugged once the guest's driver negotiates STANDBY"
                : "the failover primary is back");
        return out;
    }

    @Override
    public void removeDevice(String id, Duration timeout) {
        Vm v = vm();
        String device = id;
        HotNic nic;
        synchronized (this) {
            nic = hotNics.get(id);
            if (nic == null) {
                for (HotNic h : hotNics.values()) {
                    if (h.device().equals(id)) {
                        nic = h;
                    }
                }
            }
            if (nic != null) {
                device = nic.device();
            }
        }
        String dev = device;
        String pairNic = v.devices().failoverOfPrimary(dev);
        call(() -> v.devices().remove(dev, timeout));
        if (pairNic != null) {
            releasePrimary(v, pairNic);
        }
        if (nic != null && pairNic == null) {
            synchronized (this) {
                hotNics.remove(nic.plan().id());
            }
            try {
                nic.wired().close();
            } catch (RuntimeException e) {
                throw new ApiException(500, null, id + " was removed, but releasing its VF failed: " + e.getMessage(), e);
            }
        }
        closePoolIfUnused();
    }

    /** A failover primary is gone: the pair runs on its standby, and the VF goes back to the pool. */
    private void releasePrimary(Vm v, String nic) {
        v.devices().setFailoverPrimary(nic, null);
        VfPool.Lease l;
        synchronized (this) {
            l = primaryLeases.remove(nic);
        }
        if (l == null) {
            l = launchLeases.apply(nic);
        }
        if (l != null) {
            try {
                l.close();
            } catch (RuntimeException e) {
                throw new ApiException(500, null, "the failover primary of " + nic + " was removed, but releasing its VF "
                        + "failed: " + e.getMessage(), e);
            }
        }
        log.info("{}: failover primary removed; traffic is on the standby", nic);
    }

    private static void call(Runnable r) {
        call(() -> {
            r.run();
            return null;
        });
    }

    /** Runs {@code s}, turning VMM errors into the API's statuses. */
    private static <T> T call(Supplier<T> s) {
        try {
            return s.get();
        } catch (ApiException e) {
            throw e;
        } catch (VmmException e) {
            int status = switch (e.reason()) {
                case CONFIG, IMAGE -> 400;
                case NOT_FOUND -> 404;
                case CONFLICT -> 409;
                case TIMEOUT -> 504;
                default -> 500;
            };
            throw new ApiException(status, fieldOf(e.getMessage()), e.getMessage(), e);
        }
    }

    /** The key a config error names ({@code vm.add-disk: path: ...} or {@code unknown key "x"}), or null. */
    static String fieldOf(String message) {
        if (message == null) {
            return null;
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("key \"([a-z_]+)\"").matcher(message);
        if (m.find()) {
            return m.group(1);
        }
        m = java.util.regex.Pattern.compile("^[\\w.\\- ]+?: ([a-z_]+): ").matcher(message);
        return m.find() ? m.group(1) : null;
    }
}

package dev.jvmm.vmm.nic;

import dev.jvmm.sriov.SriovException;
import dev.jvmm.sriov.VfPool;
import dev.jvmm.sys.netlink.Macs;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.vmm.ResourceStack;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.VfioConfig;
import dev.jvmm.vmm.config.VmConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Where NIC plans become devices of the VM, the one place {@code jvmm launch} hands its {@link NicPlan}s to:
 * <ul>
 * <li>a VF: a lease from the PF's pool ({@link VfPool#acquire}: a free VF, or the one named; its MAC, VLAN/QoS,
 * spoof-check, trust and rate set through the PF; bound to vfio-pci), passed through as a {@code --device vfio=};
 * stale leases the pool releases on the way are reported;</li>
 * <li>virtio-net on a TAP, a TAP in a bridge, or a macvtap on the PF: a {@link NetConfig} after the VM's
 * {@code --net} NICs (the devices layer makes and removes the TAP or macvtap).</li>
 * </ul>
 * The {@link Wired} result owns the leases: close it after the VM is torn down (its VFIO devices closed), and each
 * VF is reset to its pool state, given back to its previous driver and released.
 */
public final class NicWiring {
    private NicWiring() {
    }

    /** The VM's configuration with its NICs as devices, and the leases taken for them. */
    public static final class Wired implements AutoCloseable {
        private final VmConfig config;
        private final List<VfPool.Lease> leases;
        private final java.util.Map<String, VfPool.Lease> byNic;
        private final ResourceStack owned;

        Wired(VmConfig config, java.util.Map<String, VfPool.Lease> byNic, ResourceStack owned) {
            this.config = config;
            this.leases = List.copyOf(byNic.values());
            this.byNic = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(byNic));
            this.owned = owned;
        }

        /** The lease of NIC {@code id}'s VF, or null. */
        public VfPool.Lease lease(String id) {
            return byNic.get(id);
        }

        public VmConfig config() {
            return config;
        }

        public List<VfPool.Lease> leases() {
            return leases;
        }

        /** Releases the leases, last taken first; a failure is reported after every lease had its turn. */
        @Override
        public void close() {
            owned.close();
        }
    }

    /**
     * Takes what the plans need and returns the VM with them as devices. On failure what was taken is given back.
     *
     * @param pool   the VF pool; may be null when no plan is a passthrough
     * @param holder how leases name this VM (e.g. {@code jvmm pid 4242})
     * @param say    where a line for the user goes (a VF taken, a stale lease released)
     */
    public static Wired wire(VmConfig cfg, List<NicPlan> plans, VfPool pool, String holder, Consumer<String> say) {
        if (!plans.isEmpty()) {
            try {
                for (String g : dev.jvmm.vmm.devices.NetBackends.sweepStaleMacvtaps()) {
                    say.accept("deleted macvtap " + g + ": the jvmm that made it is gone");
                }
            } catch (RuntimeException e) {
                say.accept("could not look for macvtaps left by jvmm processes that are gone: " + e.getMessage());
            }
        }
        java.util.Map<String, VfPool.Lease> leases = new java.util.LinkedHashMap<>();
        ResourceStack owned = new ResourceStack();
        List<NetConfig> nets = new ArrayList<>(cfg.nets());
        List<VfioConfig> vfio = new ArrayList<>(cfg.vfio());
        try {
            for (NicPlan p : plans) {
                VfioConfig vf = null;
                if (p.takesVf()) {
                    VfPool.Lease l = owned.push(lease(p, pool, holder, say));
                    leases.put(p.id(), l);
                    vf = new VfioConfig(l.vf().toString(), VfioConfig.Iommu.AUTO, true, p.id());
                    say.accept(p.id() + ": took VF " + l.vf() + " (VF " + l.index() + " of " + l.pfNetdev() + "), mac "
                            + p.mac() + "; lease " + l.file());
                }
                if (p.choice() == NicPlan.Choice.PASSTHROUGH) {
                    vfio.add(vf);
                    continue;
                }
                nets.add(standbyOrVirtio(p, vf));
            }
        } catch (RuntimeException e) {
            throw ResourceStack.closeAfter(owned, e);
        }
        return new Wired(cfg.withDevices(cfg.disks(), nets).withVfio(vfio), leases, owned);
    }

    /** The virtio-net of a VIRTIO plan, or the standby of a FAILOVER plan (with {@code primary}, its VF or null). */
    private static NetConfig standbyOrVirtio(NicPlan p, VfioConfig primary) {
        byte[] mac = Macs.parse(p.mac());
        int queues = p.nic().queuePairs();
        String label = "--nic " + p.id();
        NetConfig.Standby standby = p.choice() == NicPlan.Choice.FAILOVER ? new NetConfig.Standby(p.id(), primary) : null;
        return switch (p.backend()) {
            case TAP -> new NetConfig(p.device(), mac, queues, null, null, label, standby);
            case BRIDGE -> new NetConfig(null, mac, queues, p.device(), null, label, standby);
            case MACVTAP -> new NetConfig(null, mac, queues, null, p.device(), label, standby);
        };
    }

    /** Takes a VF for {@code p} from {@code pool} (for a NIC, or a failover primary added back through the API). */
    public static VfPool.Lease lease(NicPlan p, VfPool pool, String holder, Consumer<String> say) {
        if (pool == null) {
            throw new IllegalStateException("NIC " + p.id() + ": a passthrough plan needs the VF pool");
        }
        VfPool.Lease l;
        try {
            l = pool.acquire(p.pfBdf() != null ? p.pfBdf() : p.pf(), p.vf() == null ? null : PciAddress.parse(p.vf()),
                    p.vfSettings(), holder + " nic " + p.id());
        } catch (SriovException e) {
            throw new VmmException(VmmException.Reason.HOST, "NIC " + p.id() + ": cannot take a VF of " + p.pf() + ": "
                    + e.getMessage(), e);
        }
        for (VfPool.Released r : l.reclaimed()) {
            say.accept(p.id() + ": released the stale lease of VF " + r.lease().vf() + " (" + r.stale() + ")"
                    + (r.actions().isEmpty() ? "" : ": " + String.join(", ", r.actions())));
        }
        return l;
    }
}

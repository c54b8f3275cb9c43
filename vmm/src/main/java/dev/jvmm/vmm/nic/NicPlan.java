package dev.jvmm.vmm.nic;

import dev.jvmm.sriov.VfNetConfig;
import dev.jvmm.vmm.config.NicConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one NIC becomes, and why: {@link NicPlanner}'s answer for one {@link NicConfig}, printed before launch
 * ({@link #line()}) and then carried out (see {@link NicWiring}).
 *
 * @param nic     what was asked (id, mode, MAC, VLAN, rate, ...), validated
 * @param choice  a VF passed through, or virtio-net
 * @param pf      the PF's network interface: PASSTHROUGH, the PF the VF comes from (its VF settings go through
 *                it); VIRTIO on MACVTAP, the interface the macvtap sits on; otherwise null
 * @param pfBdf   the PF's PCI address when known (PASSTHROUGH; MACVTAP over a PCI NIC), else null
 * @param vf      PASSTHROUGH: the VF asked for with {@code vf=}, or null: any free VF of {@code pf}, chosen when the
 *                lease is taken; VIRTIO: null
 * @param backend VIRTIO: where the virtio-net's packets go; PASSTHROUGH: null
 * @param device  VIRTIO: the TAP's name (null: jvmm creates one, as {@code --net} does), the interface the
 *                macvtap sits on, or the bridge; PASSTHROUGH: null
 * @param reason  why, as the plan line prints it in parentheses: {@code passthrough: IOMMU ready, 6 free VFs},
 *                {@code fallback: the VM is migratable}, {@code mode=virtio}
 */
public record NicPlan(NicConfig nic, Choice choice, String pf, String pfBdf, String vf, Backend backend, String device,
        String reason, boolean primary) {

    public NicPlan(NicConfig nic, Choice choice, String pf, String pfBdf, String vf, Backend backend, String device,
            String reason) {
        this(nic, choice, pf, pfBdf, vf, backend, device, reason, false);
    }

    /** What the guest gets. */
    public enum Choice {
        /** An SR-IOV VF, passed through with VFIO. */
        PASSTHROUGH,
        /** A virtio-net device on {@link #backend}. */
        VIRTIO,
        /**
         * A failover pair ({@code failover=on}): a standby virtio-net on {@link #backend} and, when {@link #primary},
         * a VF of {@link #pf} with the same MAC as its primary, hot-plugged after the guest negotiated STANDBY.
         */
        FAILOVER
    }

    /** Where a virtio-net's packets go on the host. */
    public enum Backend {
        /** A TAP: {@link #device} (existing or created), or one jvmm creates when null. */
        TAP,
        /** A macvtap (bridge mode) over {@link #device}, on the same network as the PF's VFs. */
        MACVTAP,
        /** A TAP jvmm creates and adds to the bridge {@link #device}. */
        BRIDGE
    }

    static NicPlan passthrough(NicConfig nic, PoolView.Pf pf, String vf, String reason) {
        return new NicPlan(nic, Choice.PASSTHROUGH, pf.netdev(), pf.bdf(), vf, null, null, reason);
    }

    static NicPlan virtio(NicConfig nic, PoolView.Pf over, Backend backend, String device, String reason) {
        return new NicPlan(nic, Choice.VIRTIO, over == null ? null : over.netdev(), over == null ? null : over.bdf(),
                null, backend, device, reason);
    }

    /** A failover pair: the standby's backend as planned, with a VF of {@code pf} as primary when {@code primary}. */
    static NicPlan failover(NicPlan standby, PoolView.Pf pf, String vf, boolean primary, String reason) {
        return new NicPlan(standby.nic, Choice.FAILOVER, pf == null ? standby.pf : pf.netdev(),
                pf == null ? standby.pfBdf : pf.bdf(), vf, standby.backend, standby.device, reason, primary);
    }

    /**
     * This failover plan with its primary taken later (a restored or migrated VM: the VF is leased once the VM runs,
     * as a VF with the guest's MAC takes that MAC's frames from the standby's macvtap even before it is plugged).
     */
    public NicPlan primaryLater() {
        return new NicPlan(nic, choice, pf, pfBdf, vf, backend, device, reason, false);
    }

    /** Whether a VF is to be taken from the pool: a passthrough NIC, or a failover pair with its primary. */
    public boolean takesVf() {
        return choice == Choice.PASSTHROUGH || (choice == Choice.FAILOVER && primary);
    }

    public String id() {
        return nic.id();
    }

    /** The guest's MAC, canonical ({@code 52:54:00:12:34:56}): given, or generated per VM and NIC. */
    public String mac() {
        return nic.mac();
    }

    /**
     * PASSTHROUGH: the settings to give the VF through its PF before the guest sees it (MAC always; VLAN, QoS,
     * spoofchk, trust and the TX rate when asked; the rest left as the PF driver has it).
     */
    public VfNetConfig vfSettings() {
        return new VfNetConfig(nic.mac(), nic.vlan(), nic.qos(), null, nic.spoofchk(), nic.trust(), null, null,
                nic.rate());
    }

    /** What the guest gets, in words: {@code VF of enp1s0}, {@code virtio-net on macvtap over enp1s0}. */
    public String what() {
        if (choice == Choice.PASSTHROUGH) {
            return (vf == null ? "VF" : "VF " + vf) + " of " + (pf != null ? pf : pfBdf);
        }
        if (choice == Choice.FAILOVER) {
            return "failover pair: " + (primary ? (vf == null ? "VF" : "VF " + vf) + " of " + (pf != null ? pf : pfBdf)
                    : "no VF yet") + ", standby " + standbyWhat();
        }
        return standbyWhat();
    }

    private String standbyWhat() {
        return "virtio-net on " + switch (backend) {
            case TAP -> device == null ? "a new tap" : "tap " + device;
            case MACVTAP -> "macvtap over " + device;
            case BRIDGE -> "a tap in bridge " + device;
        };
    }

    /** The plan line: {@code eth0: VF of enp1s0 (passthrough: IOMMU ready, 6 free VFs)}. */
    public String line() {
        return id() + ": " + what() + " (" + reason + ")";
    }

    /** The plan as data ({@code jvmm launch --dry-run --json}; schema in docs/launch.md); absent values are null. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id());
        m.put("mode", nic.mode().word());
        m.put("choice", choice.name().toLowerCase(java.util.Locale.ROOT));
        m.put("pf", pf);
        m.put("pfBdf", pfBdf);
        m.put("vf", vf);
        m.put("backend", backend == null ? null : backend.name().toLowerCase(java.util.Locale.ROOT));
        m.put("device", device);
        m.put("mac", mac());
        m.put("vlan", nic.vlan());
        m.put("qos", nic.qos());
        m.put("spoofchk", nic.spoofchk());
        m.put("trust", nic.trust());
        m.put("rate", nic.rate());
        m.put("queues", choice != Choice.PASSTHROUGH ? nic.queuePairs() : null);
        if (choice == Choice.FAILOVER) {
            m.put("primary", primary);
        }
        m.put("reason", reason);
        return m;
    }
}

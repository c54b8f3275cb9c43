package dev.jvmm.vmm.nic;

import dev.jvmm.sys.json.Json;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.NicConfig;
import dev.jvmm.vmm.config.NicConfig.Mode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Decides what each NIC of a VM becomes, and says why: a pure function of the NICs asked for, whether the VM is
 * migratable, whether the host can pass a device through, and the VF pool as it stands. Nothing is taken or
 * changed; launch prints the plan ({@link NicPlan#line()}) and then carries it out.
 *
 * <ul>
 *   <li>{@code mode=auto}: a VF when passthrough is ready, the PF has a free VF and the VM is not migratable;
 *       otherwise virtio-net on the same network: a macvtap over the PF, unless {@code tap=} or {@code bridge=}
 *       says where (with neither and no PF, a TAP jvmm creates).</li>
 *   <li>{@code mode=passthrough}: a VF, or a {@link VmmException} (HOST) saying why not. Never a fallback.</li>
 *   <li>{@code mode=virtio}: virtio-net on {@code tap=}, {@code bridge=}, or a macvtap over {@code pf=}
 *       ({@code macvtap=on}, or {@code pf=} alone); with none of them a TAP jvmm creates, as {@code --net}.</li>
 * </ul>
 *
 * NICs that name a VF ({@code vf=}) are decided first, then the others in order; each VF a plan takes is one
 * fewer free VF for the next NIC on that PF, so two NICs never count on the same VF.
 */
public final class NicPlanner {
    private final boolean migratable;
    private final Supplier<PassthroughReadiness> readinessSource;
    private final PoolView pool;
    private PassthroughReadiness readiness;
    /** Free VFs per PF (by PCI address) left after the NICs planned so far. */
    private final Map<String, Integer> free = new HashMap<>();
    /** The ids of this VM's NICs that took a VF of each PF, for "no free VF" reasons. */
    private final Map<String, List<String>> takenBy = new HashMap<>();
    /** The pool's answers, each asked once (a NIC may need its PF twice; two NICs may share one). */
    private final Map<String, PoolView.Pf> pfs = new HashMap<>();
    private final Map<String, PoolView.Vf> vfs = new HashMap<>();

    private NicPlanner(boolean migratable, Supplier<PassthroughReadiness> readiness, PoolView pool) {
        this.migratable = migratable;
        this.readinessSource = readiness;
        this.pool = pool;
    }

    /**
     * Plans every NIC, in their order.
     *
     * @param readiness asked at most once, and only when some NIC could be a VF (so a VM of virtio NICs, or a
     *                  migratable one, is never probed)
     * @throws VmmException HOST: a {@code mode=passthrough} NIC cannot have a VF, or a virtio-net's macvtap has
     *                      nothing to sit on; the message names the NIC
     */
    public static List<NicPlan> plan(List<NicConfig> nics, boolean migratable, Supplier<PassthroughReadiness> readiness,
            PoolView pool) {
        NicPlanner p = new NicPlanner(migratable, readiness, pool);
        NicPlan[] out = new NicPlan[nics.size()];
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < nics.size(); i++) {
                if ((nics.get(i).vf() != null) == (pass == 0)) {
                    out[i] = p.plan(nics.get(i));
                }
            }
        }
        return List.of(out);
    }

    /** The plan as {@code jvmm launch --dry-run --json} prints it: an array of {@link NicPlan#toJson()}. */
    public static String json(List<NicPlan> plans) {
        return Json.write(plans.stream().map(NicPlan::toJson).toList());
    }

    private NicPlan plan(NicConfig n) {
        if (n.failover()) {
            return failover(n);
        }
        if (n.mode() == Mode.VIRTIO) {
            return virtio(n, "mode=virtio");
        }
        // Passthrough, if the VM, the host and the pool allow it; else why not, for a fallback or an error.
        VfChoice c = migratable ? new VfChoice("the VM is migratable", null, null, 0) // mode=passthrough: refused earlier
                : vfFor(n);
        if (c.whyNot() == null) {
            take(n, c.pf());
            return NicPlan.passthrough(n, c.pf(), c.vf(), (n.mode() == Mode.AUTO ? "passthrough: " : "mode=passthrough: ")
                    + c.how(readiness()));
        }
        if (n.mode() == Mode.PASSTHROUGH) {
            throw new VmmException(VmmException.Reason.HOST, "NIC " + n.id() + ": mode=passthrough: " + c.whyNot()
                    + " (mode=auto would fall back to virtio-net)");
        }
        return virtio(n, "fallback: " + c.whyNot());
    }

    /**
     * A failover pair: the standby virtio-net as {@link #virtio} places it, and a VF as its primary when the host
     * and the pool have one (a migratable VM may have it: the primary is what gets unplugged); without one the pair
     * starts with the standby alone and the primary is added later.
     */
    private NicPlan failover(NicConfig n) {
        NicPlan standby = virtio(n, "");
        VfChoice c = vfFor(n);
        if (c.whyNot() == null) {
            take(n, c.pf());
            return NicPlan.failover(standby, c.pf(), c.vf(), true, "failover: " + c.how(readiness()));
        }
        return NicPlan.failover(standby, c.pf(), null, false, "failover: the standby alone until a VF is added: "
                + c.whyNot());
    }

    /** Whether {@code n} can have a VF now, ignoring whether the VM is migratable. */
    private record VfChoice(String whyNot, PoolView.Pf pf, String vf, int freeBefore) {
        String how(PassthroughReadiness r) {
            return r.reason() + (vf != null ? ", VF free" : ", " + freeBefore + " free VF" + (freeBefore == 1 ? "" : "s"));
        }
    }

    private VfChoice vfFor(NicConfig n) {
        if (n.pf() == null && n.vf() == null) {
            return new VfChoice("no pf= or vf= to take a VF from", null, null, 0); // mode=passthrough: refused earlier
        }
        if (!readiness().ready()) {
            return new VfChoice("passthrough not ready: " + readiness().reason(), null, null, 0);
        }
        if (n.vf() != null) {
            PoolView.Vf v = vf(n.vf());
            return new VfChoice(v.status() == PoolView.VfStatus.FREE ? null : v.detail(), v.pf(), v.bdf(), 0);
        }
        PoolView.Pf pf = pf(n.pf());
        boolean sriov = pf.status() == PoolView.PfStatus.SRIOV;
        return new VfChoice(sriov ? noFreeVf(pf) : pf.detail(), pf, null, sriov ? free(pf) : 0);
    }

    /** Why {@code pf} has no VF left for this NIC, or null when it has one. */
    private String noFreeVf(PoolView.Pf pf) {
        if (pf.vfs() == 0) {
            return pf.name() + " has no VFs (sriov_numvfs is 0; create some with jvmm sriov create " + pf.name() + " N)";
        }
        if (free(pf) > 0) {
            return null;
        }
        List<String> ours = takenBy.getOrDefault(key(pf), List.of());
        if (ours.isEmpty()) {
            return "no free VF on " + pf.name() + ": " + (pf.vfs() == 1 ? "its one VF is" : "all " + pf.vfs() + " are")
                    + " leased";
        }
        int leased = pf.vfs() - pf.freeVfs();
        return "no free VF on " + pf.name() + ": of its " + pf.vfs() + ", " + (leased > 0 ? leased + (leased == 1
                ? " is" : " are") + " leased and " : "") + ours.size() + (ours.size() == 1 ? " goes" : " go") + " to "
                + String.join(", ", ours);
    }

    private int free(PoolView.Pf pf) {
        return free.computeIfAbsent(key(pf), k -> pf.freeVfs());
    }

    /** This NIC takes one of {@code pf}'s free VFs: one fewer for the NICs after it. */
    private void take(NicConfig n, PoolView.Pf pf) {
        free.put(key(pf), free(pf) - 1);
        takenBy.computeIfAbsent(key(pf), k -> new ArrayList<>()).add(n.id());
    }

    private PoolView.Pf pf(String name) {
        return pfs.computeIfAbsent(name, pool::pf);
    }

    private PoolView.Vf vf(String bdf) {
        return vfs.computeIfAbsent(bdf, pool::vf);
    }

    private static String key(PoolView.Pf pf) {
        return pf.bdf() != null ? pf.bdf() : pf.netdev();
    }

    private PassthroughReadiness readiness() {
        if (readiness == null) {
            readiness = readinessSource.get();
        }
        return readiness;
    }

    /** virtio-net for {@code n}: on its tap= or bridge=, else a macvtap over its PF, else a TAP jvmm creates. */
    private NicPlan virtio(NicConfig n, String reason) {
        if (n.tap() != null) {
            return NicPlan.virtio(n, null, NicPlan.Backend.TAP, n.tap(), reason);
        }
        if (n.bridge() != null) {
            return NicPlan.virtio(n, null, NicPlan.Backend.BRIDGE, n.bridge(), reason);
        }
        if (n.pf() == null && n.vf() == null) {
            return NicPlan.virtio(n, null, NicPlan.Backend.TAP, null, reason);
        }
        PoolView.Pf over;
        if (n.vf() != null) {
            PoolView.Vf v = vf(n.vf());
            if (v.pf() == null) {
                throw new VmmException(VmmException.Reason.HOST, "NIC " + n.id() + ": vf: " + v.detail()
                        + ", so there is no PF for the fallback macvtap to sit on (" + reason + ")");
            }
            over = v.pf();
        } else {
            over = pf(n.pf());
        }
        if (over.netdev() == null) {
            throw new VmmException(VmmException.Reason.HOST, "NIC " + n.id() + ": " + (over.status()
                    == PoolView.PfStatus.NOT_FOUND ? "pf: " + over.detail() : "pf: " + over.name()
                    + " has no network interface (no network driver bound)") + ", so a macvtap has nothing to sit on ("
                    + reason + "; tap= or bridge= would give it somewhere else)");
        }
        return NicPlan.virtio(n, over, NicPlan.Backend.MACVTAP, over.netdev(), reason);
    }
}

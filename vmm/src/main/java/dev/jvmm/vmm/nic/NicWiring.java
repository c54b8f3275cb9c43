package dev.jvmm.vmm.nic;

import dev.jvmm.sys.netlink.Macs;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.VmConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a NIC plan becomes devices of the VM: the one place {@code jvmm launch} hands its {@link NicPlan}s to.
 * Today only virtio-net on a TAP is carried out, as a {@link NetConfig} after the VM's {@code --net} NICs (so
 * {@code --nic mode=virtio,tap=NAME} is {@code --net tap=NAME}); a VF, a macvtap or a bridge is refused before
 * anything is built, naming the NIC. Taking VF leases, macvtap and bridge backends and their cleanup belong here.
 */
public final class NicWiring {
    private NicWiring() {
    }

    /**
     * The VM with its planned NICs as devices.
     *
     * @throws VmmException HOST: a plan this jvmm cannot carry out yet (checked for every plan before any is used)
     */
    public static VmConfig apply(VmConfig cfg, List<NicPlan> plans) {
        for (NicPlan p : plans) {
            if (p.choice() != NicPlan.Choice.VIRTIO || p.backend() != NicPlan.Backend.TAP) {
                throw new VmmException(VmmException.Reason.HOST, "NIC " + p.id() + ": " + p.what() + " is planned, but "
                        + (p.choice() == NicPlan.Choice.PASSTHROUGH ? "passing a VF through" : p.backend() == NicPlan.Backend.MACVTAP
                                ? "a macvtap backend" : "a bridge backend")
                        + " is not wired into launch yet (--dry-run shows the plan; mode=virtio,tap=NAME works)");
            }
        }
        if (plans.isEmpty()) {
            return cfg;
        }
        List<NetConfig> nets = new ArrayList<>(cfg.nets());
        for (NicPlan p : plans) {
            nets.add(new NetConfig(p.device(), Macs.parse(p.mac()), p.nic().queuePairs()));
        }
        return cfg.withDevices(cfg.disks(), nets);
    }
}

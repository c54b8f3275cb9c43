package dev.jvmm.sys.netlink;

import java.util.List;

/**
 * A network link as decoded from one {@code RTM_NEWLINK} message: {@code ifinfomsg} fields and the attributes
 * jvmm uses. {@code numVf} is null when the reply has no {@code IFLA_NUM_VF} (no SR-IOV, or not requested);
 * {@code vfs} is empty when the driver has no {@code ndo_get_vf_config}.
 */
public record Link(int index, int type, int flags, String name, Integer mtu, String address, Integer numVf,
                   List<VfInfo> vfs) {
    /** The VF with {@code IFLA_VF_MAC.vf == vf}, or null. */
    public VfInfo vf(int vf) {
        for (VfInfo v : vfs) {
            if (v.vf() == vf) {
                return v;
            }
        }
        return null;
    }
}

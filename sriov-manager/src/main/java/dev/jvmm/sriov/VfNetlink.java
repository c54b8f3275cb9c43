package dev.jvmm.sriov;

import dev.jvmm.sys.netlink.Link;
import dev.jvmm.sys.netlink.VfAttribute;

/** The rtnetlink operations the manager needs; {@link RtnetlinkVfNetlink} is the real one. */
public interface VfNetlink extends AutoCloseable {
    /** The PF link with its VF table ({@code RTM_GETLINK}, {@code RTEXT_FILTER_VF}). */
    Link pf(String ifname);

    /** One VF attribute ({@code RTM_SETLINK}); throws {@link dev.jvmm.sys.ErrnoException} naming it. */
    void set(Link pf, VfAttribute attr);

    @Override
    void close();
}

package dev.jvmm.sriov;

import dev.jvmm.sys.netlink.Link;
import dev.jvmm.sys.netlink.Rtnetlink;
import dev.jvmm.sys.netlink.VfAttribute;

/** {@link VfNetlink} over jvmm's own rtnetlink socket ({@code dev.jvmm.sys.netlink}). Opened lazily. */
public final class RtnetlinkVfNetlink implements VfNetlink {
    private Rtnetlink rt;

    private Rtnetlink rt() {
        if (rt == null) {
            rt = Rtnetlink.open();
        }
        return rt;
    }

    @Override
    public Link pf(String ifname) {
        return rt().link(ifname);
    }

    @Override
    public void set(Link pf, VfAttribute attr) {
        rt().setVf(pf.index(), pf.name(), attr);
    }

    @Override
    public void close() {
        if (rt != null) {
            rt.close();
            rt = null;
        }
    }
}

package dev.jvmm.vmm.config;

import java.util.List;

/**
 * The configuration of a virtio-vsock device through vhost-vsock ({@code --vsock cid=N}): the guest's context id,
 * which the host's AF_VSOCK sockets connect to (the guest reaches the host at CID 2). 3 to 2^32-2, unique on the host.
 *
 * @param cid the guest's CID
 */
public record VsockConfig(long cid) {
    /** The keys of {@code --vsock} and of the config file's {@code "vsock"} object. */
    public static final List<String> KEYS = List.of("cid");

    public VsockConfig {
        dev.jvmm.virtio.vsock.VirtioVsock.checkCid(cid);
    }

    /** The CLI form, e.g. {@code cid=3}. */
    public String what() {
        return "--vsock cid=" + cid;
    }
}

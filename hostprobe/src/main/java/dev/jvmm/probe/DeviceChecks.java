package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import java.nio.file.Path;
import java.util.List;

/** /dev/net/tun and /dev/vhost-net. */
final class DeviceChecks {
    private DeviceChecks() {
    }

    static void run(ProbeContext c, CheckList out) {
        HostView h = c.h;
        Path tun = h.dev("net/tun");
        List<Evidence> tev = List.of(ev(h.show(tun), describe(h, tun)));
        if (!h.exists(tun)) {
            out.add("devices.tun", "devices", Status.FAIL, "/dev/net/tun does not exist: no tap networking",
                    "modprobe tun", tev);
        } else if (!h.readableWritable(tun)) {
            out.add("devices.tun", "devices", Status.FAIL, "/dev/net/tun is not accessible to this user",
                    "Run as root or with CAP_NET_ADMIN and access to /dev/net/tun", tev);
        } else {
            out.add("devices.tun", "devices", Status.PASS, "/dev/net/tun is there", "", tev);
        }
        Path vhost = h.dev("vhost-net");
        List<Evidence> vev = List.of(ev(h.show(vhost), describe(h, vhost)));
        if (h.exists(vhost) && h.readableWritable(vhost)) {
            out.add("devices.vhost-net", "devices", Status.PASS, "/dev/vhost-net is there", "", vev);
        } else {
            out.add("devices.vhost-net", "devices", Status.WARN, h.exists(vhost)
                    ? "/dev/vhost-net is not accessible: virtio-net runs in userspace"
                    : "/dev/vhost-net does not exist: virtio-net runs in userspace",
                    "modprobe vhost_net", vev);
        }
    }

    private static String describe(HostView h, Path p) {
        return !h.exists(p) ? "missing" : h.readableWritable(p) ? "exists, read-write" : "exists, not accessible";
    }
}

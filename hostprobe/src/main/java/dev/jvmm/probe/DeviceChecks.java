package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** /dev/net/tun and /dev/vhost-net. */
final class DeviceChecks {
    private DeviceChecks() {
    }

    static void run(ProbeContext c, CheckList out) {
        HostView h = c.h;
        Path tun = h.dev("net/tun");
        List<Evidence> tev = new ArrayList<>(List.of(ev(h.show(tun), describe(h, tun))));
        if (!h.exists(tun)) {
            tev.addAll(c.moduleEvidence());
            out.add("devices.tun", "devices", Status.FAIL, "/dev/net/tun does not exist: no tap networking",
                    c.loadRemedy("modprobe tun", "TUN/TAP", "CONFIG_TUN=y"), tev);
        } else if (!h.readableWritable(tun)) {
            out.add("devices.tun", "devices", Status.FAIL, "/dev/net/tun is not accessible to this user",
                    "Run as root or with CAP_NET_ADMIN and access to /dev/net/tun", tev);
        } else {
            out.add("devices.tun", "devices", Status.PASS, "/dev/net/tun is there", "", tev);
        }
        Path vhost = h.dev("vhost-net");
        List<Evidence> vev = new ArrayList<>(List.of(ev(h.show(vhost), describe(h, vhost))));
        if (h.exists(vhost) && h.readableWritable(vhost)) {
            out.add("devices.vhost-net", "devices", Status.PASS, "/dev/vhost-net is there", "", vev);
        } else if (h.exists(vhost)) {
            out.add("devices.vhost-net", "devices", Status.WARN,
                    "/dev/vhost-net is not accessible: virtio-net runs in userspace",
                    "Run as root or give the user read-write access to /dev/vhost-net", vev);
        } else {
            vev.addAll(c.moduleEvidence());
            out.add("devices.vhost-net", "devices", Status.WARN,
                    "/dev/vhost-net does not exist: virtio-net runs in userspace",
                    c.loadRemedy("modprobe vhost_net", "vhost-net", "CONFIG_VHOST_NET=y"), vev);
        }
    }

    private static String describe(HostView h, Path p) {
        return !h.exists(p) ? "missing" : h.readableWritable(p) ? "exists, read-write" : "exists, not accessible";
    }
}

package dev.jvmm.vmm.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.testing.OpenFds;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.NetConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code --net ...,vhost=}: which data plane a NIC gets when the vhost-net node opens or not. */
class DataPlaneTest {
    private static final String MISSING = "/nonexistent/vhost-net";

    private static NetConfig net(NetConfig.Vhost v) {
        return new NetConfig("jt0", null, 1).withVhost(v);
    }

    @Test
    void autoUsesVhostWhenTheNodeOpensAndSaysWhyNotOtherwise() {
        Map<Integer, String> before = OpenFds.now();
        VirtioDevices.DataPlane on = VirtioDevices.dataPlane(net(NetConfig.Vhost.AUTO), "/dev/null");
        assertNotNull(on.vhost());
        assertEquals("vhost-net", on.description());
        VirtioDevices.DataPlane off = VirtioDevices.dataPlane(net(NetConfig.Vhost.AUTO), MISSING);
        assertNull(off.vhost());
        assertTrue(off.description().startsWith("VMM data plane (vhost-net unavailable: ")
                && off.description().contains(MISSING) && off.description().contains("ENOENT"), off.description());
        assertEquals(List.of(), OpenFds.leaked(before), "the probing open is closed");
    }

    @Test
    void onFailsTheLaunchNamingTheNodeAndTheRemedy() {
        VmmException e = assertThrows(VmmException.class, () -> VirtioDevices.dataPlane(net(NetConfig.Vhost.ON), MISSING));
        assertEquals(VmmException.Reason.HOST, e.reason());
        assertTrue(e.getMessage().startsWith("--net tap=jt0: vhost=on, but " + MISSING + " cannot be opened (load the "
                + "vhost_net module, or use vhost=off or auto): "), e.getMessage());
    }

    @Test
    void offNeverTries() {
        VirtioDevices.DataPlane p = VirtioDevices.dataPlane(net(NetConfig.Vhost.OFF), "/dev/null");
        assertNull(p.vhost());
        assertEquals("VMM data plane (vhost=off)", p.description());
    }
}

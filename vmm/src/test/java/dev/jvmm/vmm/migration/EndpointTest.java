package dev.jvmm.vmm.migration;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.vmm.VmmException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The SPEC of {@code --incoming} and {@code destination=}: what parses, and a message naming each mistake. */
class EndpointTest {
    @Test
    void goodSpecs() {
        Endpoint u = Endpoint.parse("unix:/run/jvmm/mig.sock", "--incoming");
        assertEquals(Endpoint.Kind.UNIX, u.kind());
        assertEquals(Path.of("/run/jvmm/mig.sock"), u.path());
        assertNull(u.host());
        assertEquals("unix:/run/jvmm/mig.sock", u.toString());

        Endpoint t = Endpoint.parse("tcp:10.0.0.2:4444,tls-dir=/etc/jvmm/tls", "destination");
        assertEquals(Endpoint.Kind.TCP, t.kind());
        assertEquals("10.0.0.2", t.host());
        assertEquals(4444, t.port());
        assertEquals(Path.of("/etc/jvmm/tls"), t.tlsDir());
        assertFalse(t.insecure());
        assertEquals("tcp:10.0.0.2:4444,tls-dir=/etc/jvmm/tls", t.toString());

        Endpoint v6 = Endpoint.parse("tcp:[fe80::1%eth0]:65535", "destination");
        assertEquals("fe80::1%eth0", v6.host());
        assertEquals(65535, v6.port());
        assertEquals("tcp:[fe80::1%eth0]:65535", v6.address());

        Endpoint name = Endpoint.parse("tcp:dest-host.example:1,insecure=on", "--incoming");
        assertEquals("dest-host.example", name.host());
        assertTrue(name.insecure());
        assertEquals(name, Endpoint.parse(name.toString(), "--incoming"));
        assertFalse(Endpoint.parse("tcp:h:1,insecure=off", "--incoming").insecure());
    }

    @Test
    void eachMistakeIsNamed() {
        String longPath = "unix:/" + "a".repeat(120);
        String[][] cases = {
            {"", "empty; expected unix:PATH or tcp:HOST:PORT"},
            {"udp:h:1", "expected unix:PATH or tcp:HOST:PORT"},
            {"/run/mig.sock", "expected unix:PATH or tcp:HOST:PORT"},
            {"unix:", "empty path"},
            {longPath, "the path is 121 bytes long; a unix socket's path holds at most 107"},
            {"unix:/x,tls-dir=/d", "tls-dir applies to tcp: only"},
            {"unix:/x,insecure=on", "insecure applies to tcp: only"},
            {"tcp:127.0.0.1", "missing port"},
            {"tcp:127.0.0.1:", "missing port"},
            {"tcp::4444", "missing host"},
            {"tcp:", "missing port"},
            {"tcp:127.0.0.1:0", "port 0 is out of range 1..65535"},
            {"tcp:127.0.0.1:65536", "port 65536 is out of range 1..65535"},
            {"tcp:127.0.0.1:http", "port 'http' is not a number"},
            {"tcp:127.0.0.1:-1", "port '-1' is not a number"},
            {"tcp:::1:4444", "an IPv6 address goes in brackets: tcp:[::1]:PORT"},
            {"tcp:[::1:4444", "'[' without ']'"},
            {"tcp:[::1]4444", "missing port"},
            {"tcp:[::1]:", "missing port"},
            {"tcp:[host]:1", "'host' is not an IPv6 address"},
            {"tcp:[]:1", "'' is not an IPv6 address"},
            {"tcp:ho st:1", "'ho st' is not an IPv4 address, a host name or [IPv6]"},
            {"tcp:h:1,foo=bar", "unknown option 'foo' (known: tls-dir=DIR, insecure=on)"},
            {"tcp:h:1,", "empty option"},
            {"tcp:h:1,=x", "option without a name"},
            {"tcp:h:1,tls-dir=", "tls-dir needs a directory"},
            {"tcp:h:1,tls-dir", "tls-dir needs a directory"},
            {"tcp:h:1,tls-dir=/a,tls-dir=/b", "tls-dir is given twice"},
            {"tcp:h:1,insecure=on,insecure=on", "insecure is given twice"},
            {"tcp:h:1,insecure=yes", "insecure takes on or off, not 'yes'"},
            {"tcp:h:1,insecure", "insecure takes on or off, not nothing"},
            {"tcp:h:1,tls-dir=/d,insecure=on", "tls-dir and insecure=on contradict each other"},
        };
        List<Executable> checks = new ArrayList<>();
        for (String[] c : cases) {
            checks.add(() -> {
                VmmException e = assertThrows(VmmException.class, () -> Endpoint.parse(c[0], "--incoming"), c[0]);
                assertEquals(VmmException.Reason.CONFIG, e.reason(), c[0]);
                String prefix = c[0].isEmpty() ? "--incoming: " : "--incoming " + c[0] + ": ";
                assertTrue(e.getMessage().startsWith(prefix) && e.getMessage().contains(c[1]),
                        c[0] + " -> " + e.getMessage());
            });
        }
        assertAll(checks);
        VmmException named = assertThrows(VmmException.class, () -> Endpoint.parse("tcp:h", "destination"));
        assertEquals("destination tcp:h: missing port (tcp:HOST:PORT)", named.getMessage());
    }
}

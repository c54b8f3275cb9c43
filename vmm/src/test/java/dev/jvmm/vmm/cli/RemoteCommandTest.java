package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.json.Json;
import dev.jvmm.vmm.api.ApiException;
import dev.jvmm.vmm.api.ApiServer;
import dev.jvmm.vmm.api.FakeControl;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jvmm remote} against a real control API server with a fake VM: verbs, bodies, output, exit codes. */
class RemoteCommandTest {
    @TempDir
    Path tmp;
    Path sock;
    FakeControl vm;
    ApiServer server;

    @BeforeEach
    void start() {
        sock = tmp.resolve("vm1.sock");
        vm = new FakeControl();
        server = ApiServer.start(sock, vm);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private CliRun remote(String... verbAndArgs) {
        List<String> a = new ArrayList<>(List.of("remote", "--api-socket", sock.toString()));
        a.addAll(List.of(verbAndArgs));
        return CliRun.of(a.toArray(String[]::new));
    }

    private static Object json(String out) throws Json.ParseException {
        return Json.parse(out);
    }

    @Test
    void queriesPrintTheAnswersJson() throws Exception {
        CliRun ping = remote("ping");
        assertEquals(0, ping.code(), ping.err());
        assertEquals(Map.of("version", VersionProvider.jvmmVersion()), json(ping.out()));
        assertEquals("", ping.err());
        CliRun info = remote("info");
        assertEquals(0, info.code(), info.err());
        assertEquals(FakeControl.INFO, json(info.out()));
        CliRun counters = remote("counters");
        assertEquals(0, counters.code(), counters.err());
        assertEquals(FakeControl.COUNTERS, json(counters.out()));
        assertEquals(List.of("info", "counters"), vm.calls);
    }

    @Test
    void actionsPrintNothingAndCallTheVm() {
        for (String verb : List.of("pause", "resume", "power-off", "reboot", "shutdown")) {
            CliRun r = remote(verb);
            assertEquals(0, r.code(), verb + ": " + r.err());
            assertEquals("", r.out(), verb);
            assertEquals("", r.err(), verb);
        }
        assertEquals(0, remote("shutdown", "timeout=30").code());
        assertEquals(List.of("pause", "resume", "powerOff", "reboot", "shutdown 10s", "shutdown 30s"), vm.calls);
    }

    @Test
    void addVerbsSendTheirArgumentsAsAJsonObject() throws Exception {
        CliRun disk = remote("add-disk", "/img.raw,readonly=on", "id=d1");
        assertEquals(0, disk.code(), disk.err());
        assertEquals(Map.of("id", "d1", "bdf", "0000:00:05.0"), json(disk.out()));
        assertEquals(0, remote("add-net", "tap0,mac=52:54:00:12:34:56").code());
        assertEquals(0, remote("add-nic", "pf=eth0,mode=auto", "vlan=100").code());
        assertEquals(0, remote("add-device", "0000:01:10.0").code());
        assertEquals(0, remote("add-disk", "path=/other.raw").code());
        assertEquals(List.of("add DISK {path=/img.raw, readonly=on, id=d1}", "add NET {tap=tap0, mac=52:54:00:12:34:56}",
                "add NIC {pf=eth0, mode=auto, vlan=100}", "add DEVICE {vfio=0000:01:10.0}", "add DISK {path=/other.raw}"),
                vm.calls);
    }

    @Test
    void removeDeviceSendsTheId() {
        assertEquals(0, remote("remove-device", "d1").code());
        assertEquals(0, remote("remove-device", "id=net0").code());
        assertEquals(0, remote("remove-device", "vfio-0", "timeout=5").code());
        assertEquals(List.of("removeDevice d1", "removeDevice net0", "removeDevice vfio-0 timeout=5"), vm.calls);
    }

    @Test
    void snapshotSendsAnAbsoluteDestination() {
        assertEquals(0, remote("snapshot", "destination=/var/snap1").code());
        assertEquals(0, remote("snapshot", "/var/snap2,resume=on").code());
        CliRun rel = remote("snapshot", "rel/dir");
        assertEquals(0, rel.code(), rel.err());
        assertEquals(List.of("snapshot /var/snap1", "snapshot /var/snap2 resume",
                "snapshot " + java.nio.file.Path.of("rel/dir").toAbsolutePath()), vm.calls);
        assertUsage("snapshot: resume=maybe is not on or off", "snapshot", "/s", "resume=maybe");
        assertUsage("snapshot takes a directory: snapshot destination=DIR [resume=on]", "snapshot");
    }

    @Test
    void aRefusalIsExit1WithTheServersMessage() {
        vm.failWith(() -> new ApiException(409, null, "the VM is already paused"));
        CliRun r = remote("pause");
        assertEquals(1, r.code());
        assertEquals("", r.out());
        assertEquals("Error: the VM is already paused\n", r.err());
        CliRun range = remote("shutdown", "timeout=0");
        assertEquals(1, range.code());
        assertEquals("Error: timeout_s must be a whole number of seconds from 1 to 3600, got 0\n", range.err());
        vm.failWith(() -> new IllegalStateException("vCPU 1 did not stop"));
        CliRun internal = remote("info");
        assertEquals(1, internal.code());
        assertEquals("Error: vCPU 1 did not stop\n", internal.err());
    }

    @Test
    void badUsageIsExit2WithoutARequest() {
        CliRun verb = remote("explode");
        assertEquals(2, verb.code());
        assertTrue(verb.err().startsWith("Unknown verb 'explode' (expected one of: ping, info, counters, pause, resume,"
                + " shutdown, power-off, reboot, add-disk, add-net, add-nic, add-device, remove-device, snapshot, send-migration"),
                verb.err()); // later verbs (balloon, ...) follow
        assertTrue(verb.err().contains("Usage: jvmm remote"), verb.err());
        assertUsage("add-nic: 'eth0' in 'eth0' is not key=value", "add-nic", "mode=auto", "eth0");
        assertUsage("add-disk: '=x' in '=x' is not key=value", "add-disk", "=x");
        assertUsage("add-disk: key 'path' given twice", "add-disk", "/a", "path=/b");
        assertUsage("add-disk: '' in '/a,' is not key=value", "add-disk", "/a,");
        assertUsage("add-disk needs key=value arguments (the keys of --disk, and id=...)", "add-disk");
        assertUsage("ping takes no arguments, got 'now'", "ping", "now");
        assertUsage("shutdown: timeout=soon is not a whole number of seconds", "shutdown", "timeout=soon");
        assertUsage("shutdown takes only timeout=SECONDS", "shutdown", "force=on");
        assertUsage("remove-device takes the device's id: remove-device ID [timeout=SECONDS]", "remove-device");
        assertEquals(List.of(), vm.calls);
        CliRun noSocket = CliRun.of("remote", "ping");
        assertEquals(2, noSocket.code());
        assertTrue(noSocket.err().startsWith("Missing required option: '--api-socket=PATH'"), noSocket.err());
    }

    private void assertUsage(String message, String... verbAndArgs) {
        CliRun r = remote(verbAndArgs);
        assertEquals(2, r.code(), String.join(" ", verbAndArgs));
        assertTrue(r.err().startsWith(message + "\n"), r.err());
        assertEquals("", r.out());
    }

    @Test
    void anUnreachableSocketIsExit1NamingIt() throws Exception {
        Path missing = tmp.resolve("nobody.sock");
        CliRun none = CliRun.of("remote", "--api-socket", missing.toString(), "ping");
        assertEquals(1, none.code());
        assertEquals("Error: cannot connect to " + missing + ": no such file\n", none.err());
        Path stale = tmp.resolve("stale.sock");
        try (var ch = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.bind(java.net.UnixDomainSocketAddress.of(stale));
        }
        CliRun refused = CliRun.of("remote", "--api-socket", stale.toString(), "info");
        assertEquals(1, refused.code());
        assertEquals("Error: cannot connect to " + stale + ": Connection refused (no jvmm listens there)\n", refused.err());
        assertEquals("", refused.out());
    }

    @Test
    void anErrorAnswerNotInTheApisFormIsShownWithItsStatus() {
        assertEquals("HTTP 502: <html>bad gateway</html>",
                RemoteCommand.errorMessage(new dev.jvmm.vmm.api.ApiClient.Reply(502, "<html>bad gateway</html>\n")));
        assertEquals("HTTP 503", RemoteCommand.errorMessage(new dev.jvmm.vmm.api.ApiClient.Reply(503, "")));
        assertEquals("HTTP 400: {\"message\": \"x\"}",
                RemoteCommand.errorMessage(new dev.jvmm.vmm.api.ApiClient.Reply(400, "{\"message\": \"x\"}")));
        assertEquals("gone", RemoteCommand.errorMessage(new dev.jvmm.vmm.api.ApiClient.Reply(404,
                "{\"error\": \"gone\", \"field\": null}")));
    }

    /** {@code RemoteCommand.main} (what {@code ./jvmm remote} runs) on {@code args}, its quick path or picocli's. */
    private static CliRun alone(String... args) {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int code = RemoteCommand.run(args, new java.io.PrintWriter(out), new java.io.PrintWriter(err));
        return new CliRun(code, out.toString(), err.toString());
    }

    private void assertSameAsUnderJvmm(String... args) {
        List<String> under = new ArrayList<>(List.of("remote"));
        under.addAll(List.of(args));
        assertEquals(CliRun.of(under.toArray(String[]::new)), alone(args), String.join(" ", args));
    }

    @Test
    void theFastEntryPointBehavesAsUnderJvmm() {
        String s = sock.toString();
        for (String[] args : List.of(new String[] {"--help"}, new String[] {"-V"}, new String[] {"--api-socket", s, "ping"},
                new String[] {"--api-socket=" + s, "info"}, new String[] {"counters", "--api-socket", s},
                new String[] {"--api-socket", s, "add-disk", "/img.raw,readonly=on", "id=d1"},
                new String[] {"--api-socket", s, "explode"}, new String[] {"ping"}, new String[] {"--api-socket", s},
                new String[] {"--api-socket", s, "pause", "now"}, new String[] {"--api-socket", s, "add-disk", "/a,"},
                new String[] {"--api-socket", s, "shutdown", "timeout=soon"}, new String[] {"--api-socket", s, "remove-device"},
                new String[] {"--api-socket", s, "--api-socket", s, "ping"}, new String[] {"--api-socket", s, "ping", "-x"},
                new String[] {"--api-socket", s, "--", "ping"}, new String[] {"--api-socket", "", "ping"},
                new String[] {"--api-socket", tmp.resolve("none").toString(), "info"})) {
            assertSameAsUnderJvmm(args);
        }
        vm.failWith(() -> new ApiException(409, null, "the VM is already paused"));
        CliRun refused = alone("--api-socket", s, "pause");
        assertEquals(new CliRun(1, "", "Error: the VM is already paused\n"), refused);
        assertTrue(alone("--help").out().startsWith("Usage: jvmm remote [-hV] --api-socket=PATH VERB [ARG...]"),
                alone("--help").out());
    }

    @Test
    void theQuickPathTakesOnlyTheSocketAndWords() {
        RemoteCommand q = RemoteCommand.quickParse(new String[] {"--api-socket", "/run/a.sock", "add-disk", "/x", "id=d"});
        assertEquals(Path.of("/run/a.sock"), q.socket);
        assertEquals("add-disk", q.verb);
        assertEquals(List.of("/x", "id=d"), q.args);
        RemoteCommand after = RemoteCommand.quickParse(new String[] {"ping", "--api-socket=/s"});
        assertEquals(Path.of("/s"), after.socket);
        assertEquals(null, after.args);
        for (String[] picocli : List.of(new String[] {"--help"}, new String[] {"-h", "--api-socket", "/s", "ping"},
                new String[] {"--api-socket", "/s"}, new String[] {"ping"}, new String[] {"--api-socket"},
                new String[] {"--api-socket", "/s", "--api-socket", "/t", "ping"}, new String[] {"--api-socket", "/s", "--", "ping"},
                new String[] {"--api-socket", "/s", "@args"}, new String[] {"--api-socket", "-V", "ping"},
                new String[] {"--api-socket=", "ping"}, new String[] {"--api-socket", "/s\0", "ping"})) {
            assertEquals(null, RemoteCommand.quickParse(picocli), String.join(" ", picocli));
        }
    }

    @Test
    void helpListsTheVerbs() {
        CliRun h = CliRun.of("remote", "--help");
        assertEquals(0, h.code());
        assertTrue(h.out().contains("--api-socket=PATH") && h.out().contains("remove-device ID"), h.out());
        assertTrue(CliRun.of("--help").out().contains("remote"), "listed among jvmm's commands");
    }

    @Test
    void balloonVerbs() throws Exception {
        vm.balloon = Map.of("target_bytes", 0L);
        CliRun get = remote("balloon");
        assertEquals(0, get.code(), get.err());
        assertEquals(Map.of("target_bytes", 0L), json(get.out()));
        CliRun resize = remote("resize-balloon", "size=128M");
        assertEquals(0, resize.code(), resize.err());
        assertEquals(0, remote("resize-balloon", "256M").code(), "a bare size");
        assertEquals(List.of("balloon", "resizeBalloon " + (128L << 20), "resizeBalloon " + (256L << 20)), vm.calls);
        CliRun bad = remote("resize-balloon", "target=1G");
        assertEquals(2, bad.code(), bad.err());
        assertTrue(bad.err().contains("resize-balloon size=SIZE"), bad.err());
    }
}

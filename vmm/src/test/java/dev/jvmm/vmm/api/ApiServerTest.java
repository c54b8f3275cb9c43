package dev.jvmm.vmm.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.cli.VersionProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control API server on a real unix socket with a fake VM: every endpoint, every error, the server goes on. */
class ApiServerTest {
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

    @Test
    void getEndpointsAnswerJson() throws Exception {
        RawHttp ping = RawHttp.get(sock, "/api/v1/vmm.ping");
        assertEquals(200, ping.status());
        assertEquals("application/json", ping.headers().get("content-type"));
        assertEquals(Map.of("version", VersionProvider.jvmmVersion()), ping.json());
        assertFalse(VersionProvider.jvmmVersion().equals("unknown"), "the version comes from the filtered properties");
        RawHttp info = RawHttp.get(sock, "/api/v1/vm.info");
        assertEquals(200, info.status());
        assertEquals(FakeControl.INFO, info.json());
        RawHttp counters = RawHttp.get(sock, "/api/v1/vm.counters");
        assertEquals(200, counters.status());
        assertEquals(FakeControl.COUNTERS, counters.json());
        assertEquals(List.of("info", "counters"), vm.calls);
    }

    @Test
    void actionsAnswer204AndCallTheVm() throws Exception {
        for (String a : List.of("vm.pause", "vm.resume", "vm.power-off", "vm.reboot", "vm.shutdown")) {
            RawHttp r = RawHttp.put(sock, "/api/v1/" + a, null);
            assertEquals(204, r.status(), a + ": " + r.body());
            assertEquals("", r.body());
        }
        assertEquals(204, RawHttp.put(sock, "/api/v1/vm.shutdown", "{\"timeout_s\": 30}").status());
        assertEquals(204, RawHttp.put(sock, "/api/v1/vm.pause", "{}").status(), "an empty object is no fields");
        assertEquals(204, RawHttp.send(sock, "PUT", "/api/v1/vm.resume", "  \n").status(), "white space is no body");
        assertEquals(List.of("pause", "resume", "powerOff", "reboot", "shutdown 10s", "shutdown 30s", "pause", "resume"),
                vm.calls);
    }

    @Test
    void addEndpointsPassTheBodyAndAnswerTheDevice() throws Exception {
        RawHttp disk = RawHttp.put(sock, "/api/v1/vm.add-disk", "{\"path\": \"/img.raw\", \"readonly\": \"on\", \"id\": \"d1\"}");
        assertEquals(200, disk.status(), disk.body());
        assertEquals(Map.of("id", "d1", "bdf", "0000:00:05.0"), disk.json());
        assertEquals(200, RawHttp.put(sock, "/api/v1/vm.add-net", "{\"tap\": \"tap0\"}").status());
        assertEquals(200, RawHttp.put(sock, "/api/v1/vm.add-nic", "{\"pf\": \"eth0\", \"mode\": \"auto\"}").status());
        RawHttp dev = RawHttp.send(sock, "PUT", "/api/v1/vm.add-device", "{\"vfio\": \"0000:01:10.0\"}",
                "Content-Type: application/json; charset=utf-8");
        assertEquals(200, dev.status(), dev.body());
        assertEquals("device0", dev.json().get("id"));
        assertEquals(List.of("add DISK {path=/img.raw, readonly=on, id=d1}", "add NET {tap=tap0}",
                "add NIC {pf=eth0, mode=auto}", "add DEVICE {vfio=0000:01:10.0}"), vm.calls);
    }

    @Test
    void removeDeviceTakesTheId() throws Exception {
        assertEquals(204, RawHttp.put(sock, "/api/v1/vm.remove-device", "{\"id\": \"d1\"}").status());
        assertEquals(204, RawHttp.put(sock, "/api/v1/vm.remove-device", "{\"id\": \"d2\", \"timeout_s\": 5}").status());
        assertEquals(List.of("removeDevice d1", "removeDevice d2 timeout=5"), vm.calls);
    }

    @Test
    void unknownPathIs404NamingIt() throws Exception {
        RawHttp r = RawHttp.get(sock, "/api/v1/vm.bogus");
        assertEquals(404, r.status());
        assertTrue(r.error().startsWith("no endpoint /api/v1/vm.bogus (the endpoints are /api/v1/{vmm.ping,vm.info,"),
                r.error());
        assertNull(r.field());
        assertTrue(r.json().containsKey("field"), "field is there, null");
        assertEquals(404, RawHttp.get(sock, "/").status());
        assertEquals(404, RawHttp.put(sock, "/api/v2/vm.pause", null).status());
        assertPingAnswers();
    }

    @Test
    void wrongMethodIs405WithAllow() throws Exception {
        RawHttp r = RawHttp.get(sock, "/api/v1/vm.pause");
        assertEquals(405, r.status());
        assertEquals("PUT", r.headers().get("allow"));
        assertEquals("vm.pause takes PUT, not GET", r.error());
        RawHttp p = RawHttp.put(sock, "/api/v1/vm.info", "{}");
        assertEquals(405, p.status());
        assertEquals("GET", p.headers().get("allow"));
        assertEquals(405, RawHttp.send(sock, "POST", "/api/v1/vm.add-disk", "{}").status());
        assertEquals(List.of(), vm.calls);
        assertPingAnswers();
    }

    @Test
    void malformedJsonIs400WithThePosition() throws Exception {
        RawHttp r = RawHttp.put(sock, "/api/v1/vm.add-disk", "{\"path\": \"/img\",\n \"readonly\" on}");
        assertEquals(400, r.status());
        assertEquals("malformed JSON: line 2, column 13: expected ':', got 'o'", r.error());
        assertNull(r.field());
        assertEquals(List.of(), vm.calls);
        assertPingAnswers();
    }

    @Test
    void badBodiesAre400NamingTheField() throws Exception {
        RawHttp notObject = RawHttp.put(sock, "/api/v1/vm.add-net", "[\"tap0\"]");
        assertEquals(400, notObject.status());
        assertEquals("vm.add-net: the body must be a JSON object {...}, not an array", notObject.error());
        RawHttp noBody = RawHttp.put(sock, "/api/v1/vm.add-disk", null);
        assertEquals(400, noBody.status());
        assertEquals("vm.add-disk needs a JSON object body with the keys of --disk", noBody.error());
        RawHttp noId = RawHttp.put(sock, "/api/v1/vm.remove-device", "{}");
        assertEquals(400, noId.status());
        assertEquals("id", noId.field());
        assertEquals("vm.remove-device needs the device's id: {\"id\": \"...\"}", noId.error());
        RawHttp numId = RawHttp.put(sock, "/api/v1/vm.remove-device", "{\"id\": 7}");
        assertEquals(400, numId.status());
        assertEquals("id", numId.field());
        assertEquals("id must be a non-empty string, got 7", numId.error());
        RawHttp extra = RawHttp.put(sock, "/api/v1/vm.remove-device", "{\"id\": \"d1\", \"force\": true}");
        assertEquals("force", extra.field());
        RawHttp pauseField = RawHttp.put(sock, "/api/v1/vm.pause", "{\"now\": true}");
        assertEquals(400, pauseField.status());
        assertEquals("now", pauseField.field());
        assertEquals("vm.pause: unknown field \"now\" (it takes no fields)", pauseField.error());
        for (String t : List.of("0", "3601", "\"10\"", "1.5", "null")) {
            RawHttp r = RawHttp.put(sock, "/api/v1/vm.shutdown", "{\"timeout_s\": " + t + "}");
            assertEquals(400, r.status(), t);
            assertEquals("timeout_s", r.field());
            assertEquals("timeout_s must be a whole number of seconds from 1 to 3600, got " + t, r.error());
        }
        assertEquals(204, RawHttp.put(sock, "/api/v1/vm.shutdown", "{\"timeout_s\": 3600}").status());
        assertEquals(List.of("shutdown 3600s"), vm.calls, "no refused request reached the VM");
    }

    @Test
    void aBodyOver64KiBIs413() throws Exception {
        String big = "{\"path\": \"" + "x".repeat(ApiHandler.MAX_BODY) + "\"}";
        RawHttp r = RawHttp.put(sock, "/api/v1/vm.add-disk", big);
        assertEquals(413, r.status());
        assertEquals("the request body is " + big.length() + " bytes; the API takes at most 65536", r.error());
        // without a Content-Length: counted as it is read
        StringBuilder chunked = new StringBuilder("PUT /api/v1/vm.add-disk HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n");
        String chunk = "y".repeat(8192);
        for (int i = 0; i < 9; i++) {
            chunked.append(Integer.toHexString(chunk.length())).append("\r\n").append(chunk).append("\r\n");
        }
        chunked.append("0\r\n\r\n");
        RawHttp c = RawHttp.raw(sock, chunked.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(413, c.status());
        assertEquals("the request body is more than 65536 bytes; the API takes at most 65536", c.error());
        // exactly the limit is taken (and then found to be no JSON)
        String atLimit = "{\"path\": \"" + "z".repeat(ApiHandler.MAX_BODY - 12) + "\"}";
        assertEquals(ApiHandler.MAX_BODY, atLimit.length());
        RawHttp ok = RawHttp.put(sock, "/api/v1/vm.add-disk", atLimit);
        assertEquals(200, ok.status(), ok.body());
        assertPingAnswers();
    }

    @Test
    void aContentTypeOtherThanJsonIs415() throws Exception {
        RawHttp r = RawHttp.send(sock, "PUT", "/api/v1/vm.add-net", "tap=tap0", "Content-Type: text/plain");
        assertEquals(415, r.status());
        assertEquals("Content-Type text/plain is not application/json", r.error());
        assertEquals(List.of(), vm.calls);
        assertPingAnswers();
    }

    @Test
    void theVmsRefusalKeepsItsStatusAndField() throws Exception {
        vm.failWith(() -> new ApiException(409, null, "the VM is already paused"));
        RawHttp r = RawHttp.put(sock, "/api/v1/vm.pause", null);
        assertEquals(409, r.status());
        assertEquals(Map.of("error", "the VM is already paused"), Map.of("error", r.error()));
        assertNull(r.field());
        vm.failWith(() -> new ApiException(400, "cache", "--disk: cache must be none, writeback, writethrough or unsafe"));
        RawHttp f = RawHttp.put(sock, "/api/v1/vm.add-disk", "{\"path\": \"/img\", \"cache\": \"fast\"}");
        assertEquals(400, f.status());
        assertEquals("cache", f.field());
        assertEquals("--disk: cache must be none, writeback, writethrough or unsafe", f.error());
        vm.failWith(() -> new ApiException(404, "id", "no device \"d9\""));
        assertEquals(404, RawHttp.put(sock, "/api/v1/vm.remove-device", "{\"id\": \"d9\"}").status());
        assertPingAnswers();
    }

    @Test
    void anyOtherFailureIs500WithItsMessage() throws Exception {
        vm.failWith(() -> new IllegalStateException("vCPU 1 did not stop"));
        RawHttp r = RawHttp.get(sock, "/api/v1/vm.info");
        assertEquals(500, r.status());
        assertEquals("vCPU 1 did not stop", r.error());
        assertNull(r.field());
        vm.failWith(NullPointerException::new);
        RawHttp npe = RawHttp.put(sock, "/api/v1/vm.reboot", null);
        assertEquals(500, npe.status());
        assertEquals("java.lang.NullPointerException", npe.error());
        assertEquals(200, RawHttp.get(sock, "/api/v1/vm.info").status(), "the next request is served");
    }

    @Test
    void whatJettyRefusesIsAnsweredInTheSameForm() throws Exception {
        RawHttp r = RawHttp.raw(sock, ("GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(400, r.status());
        assertEquals("application/json", r.headers().get("content-type"));
        assertTrue(r.error().contains("Content-Length"), r.error());
        assertPingAnswers();
    }

    @Test
    void theSocketIs0600WhileServedAndGoneAfterClose() throws Exception {
        assertTrue(ApiSocket.isSocket(sock));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
        try (var entries = Files.list(tmp)) {
            assertEquals(List.of(sock), entries.toList(), "no temporary directory left next to it");
        }
        assertEquals(sock, server.path());
        server.close();
        assertFalse(Files.exists(sock, java.nio.file.LinkOption.NOFOLLOW_LINKS));
        server.close(); // idempotent
        assertThrows(java.io.IOException.class, () -> RawHttp.get(sock, "/api/v1/vmm.ping"));
    }

    @Test
    void aStaleSocketIsReplaced() throws Exception {
        server.close();
        Path stale = tmp.resolve("stale.sock");
        try (var ch = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.bind(java.net.UnixDomainSocketAddress.of(stale)); // closed without removing: a killed jvmm's
        }
        assertTrue(ApiSocket.isSocket(stale));
        server = ApiServer.start(stale, vm);
        assertEquals(200, RawHttp.get(stale, "/api/v1/vmm.ping").status());
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(stale)));
    }

    @Test
    void aLiveSocketIsRefusedAndKeepsServing() throws Exception {
        VmmException e = assertThrows(VmmException.class, () -> ApiServer.start(sock, new FakeControl()));
        assertEquals(VmmException.Reason.CONFIG, e.reason());
        assertEquals("API socket " + sock + ": exists and another process listens there (a running jvmm?)", e.getMessage());
        assertPingAnswers();
        try (var entries = Files.list(tmp)) {
            assertEquals(List.of(sock), entries.toList(), "the refused server left nothing behind");
        }
    }

    @Test
    void aPathThatIsNoSocketOrHasNoDirectoryIsRefused() throws Exception {
        Path file = Files.writeString(tmp.resolve("notes.txt"), "keep me");
        VmmException e = assertThrows(VmmException.class, () -> ApiServer.start(file, vm));
        assertEquals(VmmException.Reason.CONFIG, e.reason());
        assertEquals("API socket " + file + ": exists and is not a socket (jvmm replaces only a stale socket)",
                e.getMessage());
        assertEquals("keep me", Files.readString(file));
        Path nowhere = tmp.resolve("no/such/dir/vm.sock");
        VmmException d = assertThrows(VmmException.class, () -> ApiServer.start(nowhere, vm));
        assertEquals("API socket " + nowhere + ": the directory " + nowhere.getParent() + " does not exist", d.getMessage());
        Path tooLong = tmp.resolve("x".repeat(120) + ".sock");
        VmmException l = assertThrows(VmmException.class, () -> ApiServer.start(tooLong, vm));
        assertTrue(l.getMessage().startsWith("API socket " + tooLong + ": is "), l.getMessage());
        assertTrue(l.getMessage().endsWith("bytes long; a unix socket's path has at most 107"), l.getMessage());
    }

    @Test
    void concurrentRequestsAreAllServed() throws Exception {
        int threads = 6;
        int each = 20;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            List<java.util.concurrent.Future<List<Integer>>> done = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int n = t;
                done.add(pool.submit(() -> {
                    List<Integer> statuses = new java.util.ArrayList<>();
                    for (int i = 0; i < each; i++) {
                        statuses.add(switch ((n + i) % 3) {
                            case 0 -> RawHttp.get(sock, "/api/v1/vm.info").status();
                            case 1 -> RawHttp.put(sock, "/api/v1/vm.pause", null).status();
                            default -> RawHttp.put(sock, "/api/v1/vm.add-disk", "{\"path\": \"/d" + n + "-" + i + "\"}").status();
                        });
                    }
                    return statuses;
                }));
            }
            int ok = 0;
            for (var f : done) {
                for (int s : f.get(60, java.util.concurrent.TimeUnit.SECONDS)) {
                    assertTrue(s == 200 || s == 204, "status " + s);
                    ok++;
                }
            }
            assertEquals(threads * each, ok);
            assertEquals(threads * each, vm.calls.size());
            assertEquals(threads * each / 3, vm.calls.stream().filter(c -> c.equals("pause")).count());
            assertEquals(threads * each / 3, vm.calls.stream().filter(c -> c.startsWith("add DISK {path=/d")).count());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void theServersThreadsAreDaemonsNamedApi() throws Exception {
        assertPingAnswers();
        List<Thread> api = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("api-")).toList();
        assertFalse(api.isEmpty());
        assertTrue(api.stream().allMatch(Thread::isDaemon), api.toString());
        assertTrue(api.size() <= ApiServer.MAX_THREADS + 1, "pool plus its scheduler: " + api);
    }

    @Test
    void closingFromInsideARequestDoesNotWaitForItself() throws Exception {
        vm.onPowerOff = server::close;
        long t0 = System.nanoTime();
        try {
            RawHttp.put(sock, "/api/v1/vm.power-off", null);
        } catch (Exception | AssertionError cut) {
            // the connection may end before the answer: the server is going away
        }
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "close from an api thread returned at once");
        assertEquals(List.of("powerOff"), vm.calls);
        assertFalse(Files.exists(sock, java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    private void assertPingAnswers() throws Exception {
        assertEquals(200, RawHttp.get(sock, "/api/v1/vmm.ping").status(), "the server still answers");
    }
}

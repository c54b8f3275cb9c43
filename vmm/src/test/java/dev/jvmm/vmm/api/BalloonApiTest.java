package dev.jvmm.vmm.api;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.virtio.balloon.VirtioBalloon;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET vm.balloon} and {@code PUT vm.resize-balloon} on a real unix socket with a fake VM: the body's size in
 * bytes or as "128M", every refusal naming {@code size}, 404 for a VM without a balloon; and the answer's form from a
 * real balloon's status.
 */
class BalloonApiTest {
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
    void getAndResizeCallTheVm() throws Exception {
        vm.balloon = Map.of("target_bytes", 0L);
        RawHttp get = RawHttp.get(sock, "/api/v1/vm.balloon");
        assertEquals(200, get.status(), get.body());
        assertEquals(Map.of("target_bytes", 0L), get.json());
        assertEquals(200, RawHttp.put(sock, "/api/v1/vm.resize-balloon", "{\"size\": \"128M\"}").status());
        assertEquals(200, RawHttp.put(sock, "/api/v1/vm.resize-balloon", "{\"size\": 4096}").status());
        assertEquals(200, RawHttp.put(sock, "/api/v1/vm.resize-balloon", "{\"size\": \"64\"}").status(), "bare MiB");
        assertEquals(List.of("balloon", "resizeBalloon " + (128L << 20), "resizeBalloon 4096", "resizeBalloon " + (64L << 20)),
                vm.calls);
    }

    @Test
    void badSizesAre400NamingSize() throws Exception {
        vm.balloon = Map.of();
        for (String body : List.of("{}", "{\"size\": \"lots\"}", "{\"size\": -1}", "{\"size\": true}", "{\"size\": 1.5}")) {
            RawHttp r = RawHttp.put(sock, "/api/v1/vm.resize-balloon", body);
            assertEquals(400, r.status(), body + ": " + r.body());
            assertEquals("size", r.field(), body);
        }
        RawHttp extra = RawHttp.put(sock, "/api/v1/vm.resize-balloon", "{\"size\": 0, \"now\": true}");
        assertEquals(400, extra.status());
        assertEquals("now", extra.field());
        assertEquals(400, RawHttp.put(sock, "/api/v1/vm.resize-balloon", null).status(), "no body");
        assertEquals(405, RawHttp.put(sock, "/api/v1/vm.balloon", null).status());
        assertEquals(List.of(), vm.calls, "nothing reached the VM");
    }

    @Test
    void aVmWithoutABalloonAnswers404() throws Exception {
        RawHttp r = RawHttp.get(sock, "/api/v1/vm.balloon");
        assertEquals(404, r.status());
        assertTrue(r.error().contains("--balloon"), r.error());
        assertEquals(404, RawHttp.put(sock, "/api/v1/vm.resize-balloon", "{\"size\": \"1M\"}").status());
    }

    @Test
    void theAnswerCarriesSizesCountersAndNamedStats() {
        VirtioBalloon b = new VirtioBalloon("virtio-balloon-0", 512L << 20, 128L << 20, true, false, 5);
        Map<String, Object> m = VmController.balloonJson(b.status());
        assertEquals(128L << 20, m.get("target_bytes"));
        assertEquals(0L, m.get("actual_bytes"));
        assertEquals(false, m.get("driver"));
        assertEquals(Map.of("stats", false, "free_page_reporting", false, "deflate_on_oom", false), m.get("negotiated"));
        assertEquals(5L, m.get("stats_interval_s"));
        assertTrue(m.containsKey("stats"));
        assertNull(m.get("stats"), "no stats before a driver sent any");
        VirtioBalloon.Stats st = new VirtioBalloon.Stats(Map.of("free-memory", 7L), 0);
        VirtioBalloon.Status s = new VirtioBalloon.Status(0, 0, true, true, false, false, 1, 2, 4096, 0, 3, 0, 1, 5, st, null, 0);
        Map<String, Object> m2 = VmController.balloonJson(s);
        @SuppressWarnings("unchecked")
        Map<String, Object> sm = (Map<String, Object>) m2.get("stats");
        assertEquals("1970-01-01T00:00:00Z", sm.get("updated"));
        assertEquals(Map.of("free-memory", 7L), sm.get("values"));
        assertEquals(3L, m2.get("refused_pages"));
        assertEquals(4096L, m2.get("released_bytes"));
        dev.jvmm.sys.json.Json.write(m2); // JSON-ready
    }
}
